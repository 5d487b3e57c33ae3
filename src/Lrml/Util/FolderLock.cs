using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Lrml.Util;

/// <summary>
/// An exclusive lock on a folder (a run directory, a sweep, an entry of the split cache), held by one process while it works
/// on the folder, so two processes never write into one folder at once.
/// <para>The lock is an operating-system file lock (<see cref="FileShare.None"/>, flock on Unix) on
/// <c>.&lt;name&gt;.lock</c> next to the folder — outside it, so the folder itself can be replaced by a rename while locked.
/// The operating system releases it when the process ends, however it ends (SIGKILL included), so a crash never leaves a
/// lock that blocks the next run. The lock file stays (deleting it would let two processes lock two different files); while
/// the lock is held, <c>.&lt;name&gt;.lock.owner</c> says who holds it (pid, host, start time, command), which is what the
/// "in use by pid N" error reports.</para>
/// <para>Locks are re-entrant on the thread that holds them (a sweep that runs a trial, a stored run that trains); another
/// thread of the same process is refused like another process.</para>
/// </summary>
internal sealed class FolderLock : IDisposable
{
    private sealed class Held(string folder, FileStream stream, int thread)
    {
        public readonly string Folder = folder;
        public readonly FileStream Stream = stream;
        public readonly int Thread = thread;
        public int Count = 1;
    }

    private static readonly Dictionary<string, Held> HeldHere = new(StringComparer.Ordinal);
    private Held? _held;

    private FolderLock(Held held) => _held = held;

    /// <summary>The locked folder (full path).</summary>
    public string Folder => _held?.Folder ?? throw new ObjectDisposedException(nameof(FolderLock));

    /// <summary>Path of the lock file of <paramref name="folder"/>: <c>&lt;parent&gt;/.&lt;name&gt;.lock</c>.</summary>
    public static string LockPath(string folder)
    {
        var (parent, name) = Split(folder);
        return Path.Combine(parent, "." + name + ".lock");
    }

    /// <summary>Locks <paramref name="folder"/> (which need not exist; its parent is created) or throws
    /// <see cref="FolderInUseException"/> at once: "&lt;what&gt; '&lt;folder&gt;' is in use by pid N on host H (since …: command).
    /// &lt;advice&gt;".</summary>
    public static FolderLock Acquire(string folder, string what, string advice) =>
        TryAcquire(folder, out var holder) ?? throw new FolderInUseException(folder, what, holder, advice);

    /// <summary>Locks <paramref name="folder"/>, waiting while another process holds it (told once through
    /// <paramref name="waiting"/>); throws <see cref="FolderInUseException"/> after <paramref name="timeout"/>.</summary>
    public static FolderLock Wait(string folder, string what, TimeSpan timeout, Action<string>? waiting = null)
    {
        var sw = Stopwatch.StartNew();
        bool told = false;
        while (true)
        {
            var got = TryAcquire(folder, out var holder);
            if (got is not null) return got;
            if (sw.Elapsed >= timeout)
                throw new FolderInUseException(folder, what, holder, timeout.TotalMinutes >= 1
                    ? $"Gave up after waiting {timeout.TotalMinutes:F0} minutes."
                    : string.Create(CultureInfo.InvariantCulture, $"Gave up after waiting {timeout.TotalSeconds:F1} s."));
            if (!told && waiting is not null)
            {
                waiting($"Waiting for pid {holder?.Pid.ToString(CultureInfo.InvariantCulture) ?? "?"} to finish with '{Path.GetFullPath(folder)}'");
                told = true;
            }
            Thread.Sleep(50);
        }
    }

    private static FolderLock? TryAcquire(string folder, out Owner? holder)
    {
        holder = null;
        string full = Normalise(folder);
        lock (HeldHere)
        {
            if (HeldHere.TryGetValue(full, out var mine))
            {
                if (mine.Thread != Environment.CurrentManagedThreadId) { holder = ReadOwner(full); return null; }
                mine.Count++;
                return new FolderLock(mine);
            }
            string lockPath = LockPath(full);
            FileStream stream;
            try
            {
                Directory.CreateDirectory(Path.GetDirectoryName(lockPath)!);
                stream = new FileStream(lockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 1, FileOptions.None);
            }
            catch (IOException ex) when (IsLockConflict(ex))
            {
                holder = ReadOwnerOfOtherProcess(full);
                return null;
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                throw new IOException($"Could not lock '{full}' ({lockPath}): {ex.Message.TrimEnd('.')}.", ex);
            }
            var held = new Held(full, stream, Environment.CurrentManagedThreadId);
            try { AtomicFile.WriteAllText(OwnerPath(full), Owner.Current().ToJson()); }
            catch (IOException) { /* the record is for messages only; the lock itself is held */ }
            HeldHere[full] = held;
            return new FolderLock(held);
        }
    }

    public void Dispose()
    {
        var held = Interlocked.Exchange(ref _held, null);
        if (held is null) return;
        lock (HeldHere)
        {
            if (--held.Count > 0) return;
            HeldHere.Remove(held.Folder);
            try { File.Delete(OwnerPath(held.Folder)); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            held.Stream.Dispose();
        }
    }

    // EWOULDBLOCK (11 on Linux, 35 on macOS) on Unix; ERROR_SHARING_VIOLATION (32) / ERROR_LOCK_VIOLATION (33) on Windows.
    private static bool IsLockConflict(IOException ex) => ex is not FileNotFoundException and not DirectoryNotFoundException
        && (ex.HResult & 0xFFFF) is 11 or 35 or 32 or 33;

    private static string OwnerPath(string full) => LockPath(full) + ".owner";

    private static string Normalise(string folder) => Path.TrimEndingDirectorySeparator(Path.GetFullPath(folder));

    private static (string Parent, string Name) Split(string folder)
    {
        string full = Normalise(folder);
        string? parent = Path.GetDirectoryName(full);
        string name = Path.GetFileName(full);
        if (parent is null || name.Length == 0) throw new ArgumentException($"'{full}' has no parent folder to hold its lock file.");
        return (parent, name);
    }

    /// <summary>The holder's record; the holder writes it right after locking, so a missing record or one naming a process that
    /// no longer runs is re-read for up to a second.</summary>
    private static Owner? ReadOwnerOfOtherProcess(string full)
    {
        Owner? o = null;
        for (int attempt = 0; attempt < 20; attempt++)
        {
            o = ReadOwner(full);
            if (o is not null && (o.Host != Environment.MachineName || IsAlive(o.Pid))) return o;
            Thread.Sleep(50);
        }
        return o;
    }

    private static Owner? ReadOwner(string full)
    {
        try { return Owner.FromJson(File.ReadAllText(OwnerPath(full))); }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or JsonException or InvalidOperationException or FormatException)
        {
            return null;
        }
    }

    /// <summary>Whether a process with this id runs on this machine.</summary>
    public static bool IsAlive(int pid)
    {
        if (pid == Environment.ProcessId) return true;
        try
        {
            using var p = Process.GetProcessById(pid);
            return !p.HasExited;
        }
        catch (ArgumentException) { return false; }
        catch (InvalidOperationException) { return false; }
    }

    /// <summary>Who holds a lock.</summary>
    internal sealed record Owner(int Pid, string Host, DateTime StartedUtc, string Command)
    {
        public static Owner Current()
        {
            var args = Environment.GetCommandLineArgs();
            string program = Path.GetFileNameWithoutExtension(args.Length > 0 ? args[0] : "");
            if (program.Equals("Lrml.Cli", StringComparison.OrdinalIgnoreCase)) program = "lrml";
            string command = string.Join(' ', new[] { program }.Concat(args.Skip(1)));
            if (command.Length > 1000) command = command[..997] + "...";
            return new Owner(Environment.ProcessId, Environment.MachineName, DateTime.UtcNow, command);
        }

        public string ToJson() => new JsonObject
        {
            ["pid"] = Pid, ["host"] = Host, ["started_utc"] = StartedUtc.ToString("O", CultureInfo.InvariantCulture), ["command"] = Command,
        }.ToJsonString() + "\n";

        public static Owner? FromJson(string json)
        {
            var o = JsonNode.Parse(json)?.AsObject();
            if (o is null) return null;
            return new Owner((int)o["pid"]!, (string)o["host"]!,
                DateTime.Parse((string)o["started_utc"]!, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind), (string?)o["command"] ?? "");
        }

        public override string ToString() => string.Create(CultureInfo.InvariantCulture,
            $"pid {Pid} on host {Host} (since {StartedUtc:yyyy-MM-dd HH:mm:ss} UTC: {Command})");
    }
}

/// <summary>A folder is locked by another process (or another thread of this one): "… is in use by pid N …".</summary>
internal sealed class FolderInUseException : IOException
{
    internal FolderInUseException(string folder, string what, FolderLock.Owner? holder, string advice)
        : base($"{what} '{Path.TrimEndingDirectorySeparator(Path.GetFullPath(folder))}' is in use by " +
               (holder?.ToString() ?? "another process (it has not said which yet)") + ". " + advice)
    {
        Folder = Path.GetFullPath(folder);
        HolderPid = holder?.Pid;
    }

    /// <summary>The locked folder.</summary>
    public string Folder { get; }

    /// <summary>Process id of the holder, when it could be read.</summary>
    public int? HolderPid { get; }
}
