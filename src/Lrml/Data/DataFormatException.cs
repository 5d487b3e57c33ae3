namespace Lrml.Data;

/// <summary>
/// A data file could not be read. The message always names the file, the 1-based line (0 when the
/// problem is not tied to one line, e.g. an empty file) and the reason, so that a user can fix the file.
/// </summary>
public sealed class DataFormatException : Exception
{
    /// <summary>The file that failed.</summary>
    public string FilePath { get; }

    /// <summary>1-based line number, or 0 when the problem concerns the whole file.</summary>
    public long Line { get; }

    /// <summary>What is wrong, in plain words.</summary>
    public string Reason { get; }

    public DataFormatException(string filePath, long line, string reason, Exception? inner = null)
        : base(line > 0 ? $"{filePath}:{line}: {reason}" : $"{filePath}: {reason}", inner)
    {
        FilePath = filePath;
        Line = line;
        Reason = reason;
    }
}
