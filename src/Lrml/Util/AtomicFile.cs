using System.Text;

namespace Lrml.Util;

/// <summary>
/// Writes files atomically: the content goes to a temporary file in the same directory, is flushed to
/// disk, and is then renamed over the destination. A crash, a full disk or a permission error leaves the
/// previous file intact and no half-written file behind; the error is an <see cref="IOException"/> whose
/// message names the destination and the cause in one line.
/// </summary>
internal static class AtomicFile
{
    /// <summary>Suffix of the temporary files (".&lt;name&gt;.&lt;pid&gt;.&lt;guid&gt;.lrml-tmp" next to the destination).</summary>
    public const string TempSuffix = ".lrml-tmp";

    private static readonly AsyncLocal<Func<Stream, Stream>?> TempWrapper = new();

    /// <summary>Test seam: within the calling async flow, every temporary file stream is passed through
    /// <paramref name="wrap"/> (e.g. a stream that fails like a full disk after some bytes). Dispose to restore.</summary>
    internal static IDisposable WrapTempStreams(Func<Stream, Stream> wrap)
    {
        var previous = TempWrapper.Value;
        TempWrapper.Value = wrap;
        return new Restore(previous);
    }

    private sealed class Restore(Func<Stream, Stream>? previous) : IDisposable
    {
        public void Dispose() => TempWrapper.Value = previous;
    }

    /// <summary>Writes through a stream callback, then renames into place.</summary>
    /// <exception cref="IOException">The directory cannot be created, the disk is full, permission is denied, or the
    /// rename fails; the message names <paramref name="path"/>, and the previous file, if any, is unchanged.</exception>
    public static void Write(string path, Action<Stream> write)
    {
        string full = Path.GetFullPath(path);
        string dir = Path.GetDirectoryName(full)!;
        string tmp = Path.Combine(dir, $".{Path.GetFileName(full)}.{Environment.ProcessId}.{Guid.NewGuid():N}{TempSuffix}");
        try
        {
            Directory.CreateDirectory(dir);
            using (var fs = new FileStream(tmp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
            {
                var wrap = TempWrapper.Value;
                if (wrap is null)
                {
                    write(fs);
                    fs.Flush(flushToDisk: true);
                }
                else
                {
                    using var s = wrap(fs);
                    write(s);
                    s.Flush();
                    fs.Flush(flushToDisk: true);
                }
            }
            File.Move(tmp, full, overwrite: true);
        }
        catch (Exception ex)
        {
            try { if (File.Exists(tmp)) File.Delete(tmp); } catch { /* best effort */ }
            if (ex is IOException or UnauthorizedAccessException)
                throw new IOException($"Could not write '{full}': {Cause(ex)}. The previous file, if any, is unchanged.", ex);
            throw;
        }
    }

    /// <summary>The OS error in plain words, without the temporary file's name.</summary>
    private static string Cause(Exception ex)
    {
        string m = ex.Message;
        if (m.Contains("No space left", StringComparison.OrdinalIgnoreCase) || m.Contains("disk full", StringComparison.OrdinalIgnoreCase)
            || (ex.HResult & 0xFFFF) == 112 /* Windows ERROR_DISK_FULL */)
            return "the disk is full (no space left on device)";
        if (m.Contains("quota", StringComparison.OrdinalIgnoreCase)) return "the disk quota is exceeded";
        if (ex is UnauthorizedAccessException || m.Contains("Operation not permitted", StringComparison.OrdinalIgnoreCase)
            || m.Contains("Permission denied", StringComparison.OrdinalIgnoreCase))
            return "permission denied (read-only or protected directory or file)";
        if (m.Contains("Read-only file system", StringComparison.OrdinalIgnoreCase)) return "the file system is read-only";
        return m.TrimEnd('.');
    }

    /// <summary>
    /// Deletes the temporary files in <paramref name="directory"/> (not its subfolders) whose writer is gone: a process killed
    /// in the middle of a write (SIGKILL, power loss) leaves its temporary file, which nothing else would ever remove. The
    /// writer's process id is part of the name; files of a live process on this machine are kept. Call it while holding the
    /// folder's <see cref="FolderLock"/>, so no other writer can be at work there. Returns the deleted files' total size.
    /// </summary>
    internal static (int Files, long Bytes) DeleteStaleTemps(string directory)
    {
        if (!Directory.Exists(directory)) return (0, 0);
        int files = 0;
        long bytes = 0;
        foreach (var path in Directory.EnumerateFiles(directory, "*" + TempSuffix))
        {
            // .<name>.<pid>.<guid>.lrml-tmp
            var parts = Path.GetFileName(path).Split('.');
            if (parts.Length >= 4 && int.TryParse(parts[^3], out int pid) && FolderLock.IsAlive(pid)) continue;
            try
            {
                long size = new FileInfo(path).Length;
                File.Delete(path);
                files++;
                bytes += size;
            }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
        }
        return (files, bytes);
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
