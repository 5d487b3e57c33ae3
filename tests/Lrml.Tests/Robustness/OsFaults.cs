using System.Diagnostics;

namespace Lrml.Tests.Robustness;

/// <summary>
/// Real operating-system faults for tests: a tiny tmpfs that fills up (disk full) and the immutable attribute (a
/// write that even root cannot do). Both need root (CI runs as root); tests skip with the reason otherwise.
/// </summary>
internal static class OsFaults
{
    /// <summary>Runs a command; returns its exit code and combined output.</summary>
    public static (int Code, string Output) Run(string file, params string[] args)
    {
        try
        {
            var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (var a in args) psi.ArgumentList.Add(a);
            using var p = Process.Start(psi)!;
            string o = p.StandardOutput.ReadToEnd() + p.StandardError.ReadToEnd();
            p.WaitForExit();
            return (p.ExitCode, o);
        }
        catch (System.ComponentModel.Win32Exception e) { return (-1, e.Message); }
    }

    /// <summary>Mounts a tmpfs of <paramref name="kib"/> KiB on a new empty folder, or skips the test.</summary>
    public static TinyDisk TinyDiskOrSkip(int kib)
    {
        if (!OperatingSystem.IsLinux() || !Environment.IsPrivilegedProcess) Assert.Skip("a tiny tmpfs (disk-full test) needs Linux and root");
        string dir = Directory.CreateTempSubdirectory("lrml-tinydisk").FullName;
        var (code, output) = Run("mount", "-t", "tmpfs", "-o", $"size={kib}k,mode=0777", "tmpfs", dir);
        if (code != 0)
        {
            Directory.Delete(dir);
            Assert.Skip($"cannot mount a tmpfs here ({output.Trim()})");
        }
        return new TinyDisk(dir);
    }

    /// <summary>Sets the immutable attribute on a file or folder (no entry can be created, replaced or removed in an
    /// immutable folder; an immutable file cannot be replaced), or skips the test.</summary>
    public static IDisposable ImmutableOrSkip(string path)
    {
        if (!OperatingSystem.IsLinux() || !Environment.IsPrivilegedProcess) Assert.Skip("the immutable attribute (permission test) needs Linux and root");
        var (code, output) = Run("chattr", "+i", path);
        if (code != 0) Assert.Skip($"chattr +i is not available here ({output.Trim()})");
        return new Immutable(path);
    }

    private sealed class Immutable(string path) : IDisposable
    {
        public void Dispose() => Run("chattr", "-i", path);
    }

    /// <summary>Temporary files of <see cref="Lrml.Util.AtomicFile"/> left anywhere under <paramref name="dir"/>.</summary>
    public static string[] TempFiles(string dir) =>
        Directory.GetFiles(dir, "*" + Lrml.Util.AtomicFile.TempSuffix, SearchOption.AllDirectories);
}

/// <summary>A mounted tiny tmpfs; dispose unmounts it and removes the folder.</summary>
internal sealed class TinyDisk(string path) : IDisposable
{
    public string Path { get; } = path;

    /// <summary>Grows the file system (frees space) without touching its files.</summary>
    public void Resize(int kib) => Assert.Equal(0, OsFaults.Run("mount", "-o", $"remount,size={kib}k", Path).Code);

    public void Dispose()
    {
        OsFaults.Run("umount", "-l", Path);
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { }
    }
}

/// <summary>A stream that accepts <c>capacity</c> bytes and then fails like a full disk (ENOSPC).</summary>
internal sealed class FullDiskStream(Stream inner, long capacity) : Stream
{
    private long _written;
    public override bool CanRead => false;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => _written;
    public override long Position { get => _written; set => throw new NotSupportedException(); }
    public override void Flush() => inner.Flush();
    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));
    public override void Write(ReadOnlySpan<byte> buffer)
    {
        long room = capacity - _written;
        if (buffer.Length > room)
        {
            inner.Write(buffer[..(int)Math.Max(0, room)]);
            _written = capacity;
            throw new IOException("No space left on device", 28);
        }
        inner.Write(buffer);
        _written += buffer.Length;
    }
}
