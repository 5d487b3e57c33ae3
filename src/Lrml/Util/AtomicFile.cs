using System.Text;

namespace Lrml.Util;

/// <summary>
/// Writes files atomically: the content goes to a temporary file in the same directory, is flushed to
/// disk, and is then renamed over the destination. A crash, a full disk or a permission error leaves the
/// previous file intact and no half-written file behind.
/// </summary>
public static class AtomicFile
{
    /// <summary>Writes through a stream callback, then renames into place.</summary>
    public static void Write(string path, Action<Stream> write)
    {
        string full = Path.GetFullPath(path);
        string dir = Path.GetDirectoryName(full)!;
        Directory.CreateDirectory(dir);
        string tmp = Path.Combine(dir, $".{Path.GetFileName(full)}.{Environment.ProcessId}.{Guid.NewGuid():N}.lrml-tmp");
        try
        {
            using (var fs = new FileStream(tmp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
            {
                write(fs);
                fs.Flush(flushToDisk: true);
            }
            File.Move(tmp, full, overwrite: true);
        }
        catch (Exception ex)
        {
            try { if (File.Exists(tmp)) File.Delete(tmp); } catch { /* best effort */ }
            if (ex is IOException or UnauthorizedAccessException)
                throw new IOException($"Could not write '{full}': {ex.Message} The previous file, if any, is unchanged.", ex);
            throw;
        }
    }

    /// <summary>Writes UTF-8 text (no BOM) atomically.</summary>
    public static void WriteAllText(string path, string text) =>
        Write(path, s => { var bytes = new UTF8Encoding(false).GetBytes(text); s.Write(bytes); });

    /// <summary>Writes bytes atomically.</summary>
    public static void WriteAllBytes(string path, ReadOnlySpan<byte> bytes)
    {
        byte[] copy = bytes.ToArray();
        Write(path, s => s.Write(copy));
    }
}
