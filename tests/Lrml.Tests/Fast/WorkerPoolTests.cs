using Lrml.Fast;

namespace Lrml.Tests.Fast;

public class WorkerPoolTests
{
    /// <summary>The caller's item waits until the helper has taken the other one, and the helper then lingers, so the
    /// caller finishes first and must block (not just spin) on the helper: the path a busy machine takes.</summary>
    private sealed class SlowHelper : IParallelWork
    {
        public string Phase => "slow helper";
        private int _helperStarted;
        public int HelperItems;
        public void Reset() => Volatile.Write(ref _helperStarted, 0);
        public void Execute(int item, int worker)
        {
            if (worker != 0)
            {
                HelperItems++;
                Volatile.Write(ref _helperStarted, 1);
                Thread.Sleep(30);
                return;
            }
            long deadline = System.Diagnostics.Stopwatch.GetTimestamp() + System.Diagnostics.Stopwatch.Frequency;
            while (Volatile.Read(ref _helperStarted) == 0 && System.Diagnostics.Stopwatch.GetTimestamp() < deadline) Thread.SpinWait(20);
        }
    }

    /// <remarks>Measured on a thread of its own, as a trainer's (on the test runner's thread a blocking wait may go through the
    /// runner's SynchronizationContext, whose allocations are not the pool's), after two runs that block on the same
    /// thread: a thread's first blocking waits may allocate once (8,152 and 8,176 bytes seen in two full-suite runs on a
    /// loaded machine, never in isolation); a trainer's steps are all on one thread, and a per-run allocation still shows.</remarks>
    [Fact]
    public void TheCallerBlockingOnAHelperAllocatesNothing()
    {
        long allocated = -1;
        var work = new SlowHelper();
        var caller = new Thread(() =>
        {
            using var pool = new WorkerPool(2);
            for (int r = 0; r < 2; r++) { work.Reset(); pool.Run(work, 2); }
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int r = 0; r < 3; r++) { work.Reset(); pool.Run(work, 2); }
            allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        });
        caller.Start();
        caller.Join();
        Assert.Equal(0, allocated);
        Assert.Equal(5, work.HelperItems);                          // the helper really ran one item per run
    }

    [Fact]
    public void EveryItemRunsOnceAndAWorkerExceptionReachesTheCaller()
    {
        using var pool = new WorkerPool(2);
        var counts = new int[100];
        pool.Run(new Counting(counts), counts.Length);
        Assert.All(counts, c => Assert.Equal(1, c));
        var e = Assert.Throws<AggregateException>(() => pool.Run(new Failing(), 10));
        Assert.IsType<InvalidOperationException>(e.InnerException);
    }

    private sealed class Counting(int[] counts) : IParallelWork
    {
        public string Phase => "counting";
        public void Execute(int item, int worker) => Interlocked.Increment(ref counts[item]);
    }

    private sealed class Failing : IParallelWork
    {
        public string Phase => "failing";
        public void Execute(int item, int worker) { if (item == 7) throw new InvalidOperationException("item 7"); }
    }
}
