namespace Lrml.Reproduction.Backends;

/// <summary>
/// The check that a folder can be shared with a cluster's compute nodes. The kit cannot prove that a path is shared
/// without running on a node, so it works in two steps: before submitting it refuses paths that are certainly local to
/// this machine (a memory file system — tmpfs, ramfs — or a per-machine scratch folder such as /tmp, /var/tmp, /dev/shm,
/// /run); then every task first checks a probe file written here just before the submission and stops with a clear
/// message when it cannot read it, and a task that left no trace at all is reported as probably not seeing the folder.
/// </summary>
internal static class SharedFileSystem
{
    /// <summary>File systems that live in one machine's memory.</summary>
    public static readonly IReadOnlySet<string> MemoryFileSystems = new HashSet<string>(StringComparer.Ordinal) { "tmpfs", "ramfs", "devtmpfs" };

    /// <summary>Folders that are local to each machine on a cluster by convention.</summary>
    public static readonly IReadOnlyList<string> LocalFolders = ["/tmp", "/var/tmp", "/dev/shm", "/run"];

    /// <summary>Why <paramref name="path"/> cannot be shared with compute nodes, or null when nothing speaks against it.
    /// <paramref name="what"/> names the folder in the message ("the results folder").</summary>
    public static string? Problem(string path, string what, string mountsFile = "/proc/mounts")
    {
        ArgumentNullException.ThrowIfNull(path);
        string full = Path.GetFullPath(path);
        string? resolved = Resolve(full);
        foreach (var candidate in new[] { full, resolved }.OfType<string>().Distinct())
        {
            foreach (var local in LocalFolders)
                if (candidate == local || candidate.StartsWith(local + "/", StringComparison.Ordinal))
                    return $"{what} {full} is under {local}, which is local to each machine of a cluster: the compute nodes would not see it. " +
                           "Put it on a file system the nodes share (e.g. your home or project directory: --results DIR), or pass " +
                           "--skip-shared-fs-check when the cluster is this one machine.";
            var (mount, type) = MountOf(candidate, mountsFile);
            if (type is not null && MemoryFileSystems.Contains(type))
                return $"{what} {full} is on a {type} mounted at {mount}, which lives in this machine's memory: the compute nodes would not see it. " +
                       "Put it on a file system the nodes share (--results DIR), or pass --skip-shared-fs-check when the cluster is this one machine.";
        }
        return null;
    }

    /// <summary>The mount point and file-system type holding <paramref name="path"/> (the longest mount point that is a
    /// prefix of it), from a mounts table in /proc/mounts format; (null, null) when unknown.</summary>
    public static (string? Mount, string? Type) MountOf(string path, string mountsFile = "/proc/mounts")
    {
        if (!File.Exists(mountsFile)) return (null, null);
        string? best = null, type = null;
        foreach (var line in File.ReadLines(mountsFile))
        {
            var f = line.Split(' ');
            if (f.Length < 3) continue;
            string mount = f[1].Replace("\\040", " ", StringComparison.Ordinal);
            bool covers = mount == "/" || path == mount || path.StartsWith(mount + "/", StringComparison.Ordinal);
            if (covers && (best is null || mount.Length >= best.Length)) { best = mount; type = f[2]; }
        }
        return (best, type);
    }

    /// <summary>The path with symbolic links of its existing part resolved (a results folder reached through a link into
    /// /tmp is still local), or null when nothing needs resolving.</summary>
    private static string? Resolve(string full)
    {
        string existing = full;
        while (!Directory.Exists(existing) && !File.Exists(existing))
        {
            string? parent = Path.GetDirectoryName(existing);
            if (parent is null || parent == existing) return null;
            existing = parent;
        }
        try
        {
            string real = new DirectoryInfo(existing).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? RealPath(existing);
            return real == existing ? null : Path.Join(real, Path.GetRelativePath(existing, full)).TrimEnd('/');
        }
        catch (IOException) { return null; }
    }

    private static string RealPath(string existing)
    {
        // resolve links in the parents one level at a time (DirectoryInfo resolves the last component only)
        var parts = existing.Split('/', StringSplitOptions.RemoveEmptyEntries);
        string current = "/";
        foreach (var part in parts)
        {
            string next = Path.Combine(current, part);
            var info = new DirectoryInfo(next);
            current = info.LinkTarget is not null ? info.ResolveLinkTarget(true)?.FullName ?? next : next;
        }
        return current;
    }
}
