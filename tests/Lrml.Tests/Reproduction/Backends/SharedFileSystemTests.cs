using Lrml.Reproduction.Backends;

namespace Lrml.Tests.Reproduction.Backends;

/// <summary>The check that refuses results folders the compute nodes certainly cannot see.</summary>
public class SharedFileSystemTests
{
    private static string Mounts(params string[] lines)
    {
        string path = Path.Combine(Directory.CreateTempSubdirectory("lrml-mounts").FullName, "mounts");
        File.WriteAllLines(path, lines);
        return path;
    }

    [Theory]
    [InlineData("/tmp/results", "/tmp")]
    [InlineData("/var/tmp/x/y", "/var/tmp")]
    [InlineData("/dev/shm/r", "/dev/shm")]
    [InlineData("/run/user/1000/r", "/run")]
    public void MachineLocalFoldersAreRefused(string path, string local)
    {
        string? problem = SharedFileSystem.Problem(path, "The results folder", Mounts("/dev/vda / ext4 rw 0 0"));
        Assert.NotNull(problem);
        Assert.StartsWith($"The results folder {path} is under {local}, which is local to each machine of a cluster", problem);
        Assert.Contains("--skip-shared-fs-check", problem);
    }

    [Fact]
    public void AMemoryFileSystemIsRefusedAndANetworkOneAccepted()
    {
        string mounts = Mounts("/dev/vda / ext4 rw 0 0", "server:/export/home /home nfs4 rw 0 0", "tmpfs /scratch tmpfs rw 0 0",
            "lustre@o2ib:/proj /proj lustre rw 0 0", "host:/a\\040b /mnt/with\\040space nfs rw 0 0");
        string? problem = SharedFileSystem.Problem("/scratch/me/results", "The results folder", mounts);
        Assert.Equal("The results folder /scratch/me/results is on a tmpfs mounted at /scratch, which lives in this machine's memory: the compute " +
                     "nodes would not see it. Put it on a file system the nodes share (--results DIR), or pass --skip-shared-fs-check when the " +
                     "cluster is this one machine.", problem);
        Assert.Null(SharedFileSystem.Problem("/home/me/results", "The results folder", mounts));
        Assert.Null(SharedFileSystem.Problem("/proj/lrml/results", "The results folder", mounts));
        Assert.Equal(("/home", "nfs4"), SharedFileSystem.MountOf("/home/me/results", mounts));
        Assert.Equal(("/", "ext4"), SharedFileSystem.MountOf("/homework", mounts));                 // a prefix of a name is not a mount
        Assert.Equal(("/mnt/with space", "nfs"), SharedFileSystem.MountOf("/mnt/with space/r", mounts));
    }

    [Fact]
    public void TheRealDevShmOfThisMachineIsATmpfs()
    {
        if (!File.Exists("/proc/mounts") || SharedFileSystem.MountOf("/dev/shm").Type != "tmpfs")
            Assert.Skip("/dev/shm is not a tmpfs on this machine");
        Assert.Contains("/dev/shm", SharedFileSystem.Problem("/dev/shm/lrml", "The results folder"));
    }

    [Fact]
    public void ALinkIntoTmpIsStillLocal()
    {
        string target = Directory.CreateTempSubdirectory("lrml-linked").FullName;       // under /tmp (or $TMPDIR)
        if (!target.StartsWith("/tmp/", StringComparison.Ordinal)) Assert.Skip("the temporary folder is not under /tmp here");
        string home = Path.Combine(AppContext.BaseDirectory, "shared-fs-link-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateSymbolicLink(home, target);
        try
        {
            string? problem = SharedFileSystem.Problem(Path.Combine(home, "results"), "The results folder", Mounts("/dev/vda / ext4 rw 0 0"));
            Assert.NotNull(problem);
            Assert.Contains("is under /tmp", problem);
        }
        finally { Directory.Delete(home); }
    }
}
