using System.Diagnostics;
using Lrml.Util;

namespace Lrml.Tests.Util;

/// <summary>The folder lock: exclusive across processes and threads, re-entrant on its thread, waitable, released by the
/// operating system when its holder is killed; the owner record names the holder.</summary>
public class FolderLockTests
{
    private static string NewFolder() => Path.Combine(Directory.CreateTempSubdirectory("lrml-lock").FullName, "work");

    /// <summary>Runs <paramref name="body"/> on a new thread (not a pool task, which a blocking wait may run inline).</summary>
    private static T OnAnotherThread<T>(Func<T> body)
    {
        T result = default!;
        Exception? error = null;
        var t = new Thread(() => { try { result = body(); } catch (Exception e) { error = e; } });
        t.Start();
        t.Join();
        if (error is not null) throw new InvalidOperationException("the other thread failed", error);
        return result;
    }

    private static FolderInUseException RefusedOnAnotherThread(string folder) =>
        OnAnotherThread(() => Assert.Throws<FolderInUseException>(() => FolderLock.Acquire(folder, "The test folder", "Try later.")));

    [Fact]
    public void AHeldFolderIsRefusedElsewhereWithTheHoldersPidAndFreeAfterRelease()
    {
        string folder = NewFolder();
        string owner = FolderLock.LockPath(folder) + ".owner";
        using (var held = FolderLock.Acquire(folder, "The test folder", "Try later."))
        {
            Assert.False(Directory.Exists(folder));                         // the lock lives beside the folder, which need not exist
            Assert.Equal(Path.Combine(Path.GetDirectoryName(folder)!, ".work.lock"), FolderLock.LockPath(folder));
            Assert.Contains($"\"pid\":{Environment.ProcessId}", File.ReadAllText(owner));
            var e = RefusedOnAnotherThread(folder);
            Assert.StartsWith($"The test folder '{folder}' is in use by pid {Environment.ProcessId} on host {Environment.MachineName} (since ", e.Message);
            Assert.EndsWith("). Try later.", e.Message);
            Assert.Equal(Environment.ProcessId, e.HolderPid);
        }
        Assert.False(File.Exists(owner));
        Assert.True(File.Exists(FolderLock.LockPath(folder)));              // kept: deleting it would let two processes lock two files
        using var again = OnAnotherThread(() => FolderLock.Acquire(folder, "The test folder", "Try later."));
    }

    [Fact]
    public void TheHoldingThreadReentersAndTheLockIsFreeOnlyAfterTheOuterRelease()
    {
        string folder = NewFolder();
        var outer = FolderLock.Acquire(folder, "The test folder", "");
        using (FolderLock.Acquire(folder, "The test folder", "")) { }
        RefusedOnAnotherThread(folder);                                     // the inner release did not free it
        outer.Dispose();
        outer.Dispose();                                                    // idempotent
        OnAnotherThread(() => { FolderLock.Acquire(folder, "The test folder", "").Dispose(); return 0; });
    }

    [Fact]
    public void WaitReturnsWhenTheHolderReleasesAndTimesOutOtherwise()
    {
        string folder = NewFolder();
        var held = FolderLock.Acquire(folder, "The test folder", "");
        var said = new List<string>();
        var e = OnAnotherThread(() => Assert.Throws<FolderInUseException>(() => FolderLock.Wait(folder, "The test folder", TimeSpan.FromMilliseconds(300), said.Add)));
        Assert.EndsWith("Gave up after waiting 0.3 s.", e.Message);
        Assert.Equal([$"Waiting for pid {Environment.ProcessId} to finish with '{folder}'"], said);

        FolderLock? got = null;
        var waiter = new Thread(() => got = FolderLock.Wait(folder, "The test folder", TimeSpan.FromSeconds(30)));
        waiter.Start();
        Thread.Sleep(300);
        Assert.True(waiter.IsAlive, "the waiter got a lock that was held");
        held.Dispose();
        Assert.True(waiter.Join(TimeSpan.FromSeconds(10)), "the waiter did not get the lock after its release");
        Assert.NotNull(got);
        got.Dispose();
    }

    /// <summary>Another process (flock(1)) holds the lock file; the lock is refused while it lives and free as soon as it is
    /// killed with SIGKILL: nothing stale is left to block the next run.</summary>
    [Fact]
    public void ALockHeldByAProcessThatIsKilledIsFreeAtOnce()
    {
        if (!OperatingSystem.IsLinux() || !File.Exists("/usr/bin/flock")) Assert.Skip("flock(1) is not installed");
        string folder = NewFolder();
        string lockPath = FolderLock.LockPath(folder);
        Directory.CreateDirectory(Path.GetDirectoryName(lockPath)!);
        var psi = new ProcessStartInfo("/usr/bin/flock") { UseShellExecute = false, RedirectStandardOutput = true };
        foreach (var a in new[] { "-x", "-o", lockPath, "-c", "echo locked; exec sleep 60" }) psi.ArgumentList.Add(a);   // -o: only flock holds it
        using var other = Process.Start(psi)!;
        Assert.Equal("locked", other.StandardOutput.ReadLine());
        var e = RefusedOnAnotherThread(folder);
        Assert.Contains("is in use by another process", e.Message);        // flock(1) writes no owner record
        Assert.Null(e.HolderPid);
        other.Kill(entireProcessTree: true);
        other.WaitForExit();
        using var mine = FolderLock.Acquire(folder, "The test folder", "");
    }

    [Fact]
    public void StaleTempFilesOfDeadWritersAreDeletedAndThoseOfLiveOnesKept()
    {
        string dir = Directory.CreateTempSubdirectory("lrml-stale").FullName;
        using var dead = Process.Start(new ProcessStartInfo("true") { UseShellExecute = false })!;
        dead.WaitForExit();
        string stale = Path.Combine(dir, $".checkpoint.ckpt.{dead.Id}.{Guid.NewGuid():N}{AtomicFile.TempSuffix}");
        string live = Path.Combine(dir, $".result.json.{Environment.ProcessId}.{Guid.NewGuid():N}{AtomicFile.TempSuffix}");
        string other = Path.Combine(dir, "result.json");
        File.WriteAllBytes(stale, new byte[1234]);
        File.WriteAllText(live, "being written");
        File.WriteAllText(other, "{}");
        Assert.Equal((1, 1234L), AtomicFile.DeleteStaleTemps(dir));
        Assert.False(File.Exists(stale));
        Assert.True(File.Exists(live));
        Assert.True(File.Exists(other));
    }
}
