namespace Lrml.Fast;

/// <summary>A unit of parallel work: <see cref="Execute"/> is called once for every item index.</summary>
internal interface IParallelWork
{
    /// <summary>Runs item <paramref name="item"/> on worker <paramref name="worker"/> (0 = calling thread).
    /// Results must depend on the item only, never on the worker, for thread-count-independent output.</summary>
    void Execute(int item, int worker);

    /// <summary>The name of the work's current phase, as <see cref="PhaseClock"/> reports it (a constant string).</summary>
    string Phase { get; }
}

/// <summary>
/// A small fixed set of persistent worker threads for the fused engine. Unlike Parallel.For it allocates
/// nothing per call (the work object is created once by the caller) and its threads do not compete with
/// the .NET thread pool or TorchSharp's OpenMP pool for more than the configured count. Items are handed
/// out dynamically (an interlocked counter); the calling thread works too.
/// </summary>
internal sealed class WorkerPool : IDisposable
{
    private readonly Thread[] _threads;
    private readonly ManualResetEventSlim[] _start;
    private readonly ManualResetEventSlim _done = new(false, 100);
    private IParallelWork? _work;
    private int _count, _next, _remaining;
    private Exception? _error;
    private volatile bool _disposed;

    /// <summary>Number of workers including the calling thread.</summary>
    public int Threads { get; }

    /// <summary>Where runs report their wall time by phase (<see cref="IParallelWork.Phase"/>); null: not timed.</summary>
    public PhaseClock? Clock { get; set; }

    public WorkerPool(int threads)
    {
        if (threads < 1) throw new ArgumentOutOfRangeException(nameof(threads));
        Threads = threads;
        _threads = new Thread[threads];
        _start = new ManualResetEventSlim[threads];
        for (int w = 1; w < threads; w++)
        {
            _start[w] = new ManualResetEventSlim(false, 100);
            int id = w;
            _threads[w] = new Thread(() => Loop(id)) { IsBackground = true, Name = $"lrml-fused-{w}" };
            _threads[w].Start();
        }
        // The first Wait that has to block (not just spin) lazily allocates the event's lock object on the calling
        // thread. Make that happen here, so a step stays allocation-free even when a busy machine makes the caller
        // block for the first time in the middle of training.
        if (threads > 1) _done.Wait(1);
    }

    /// <summary>Runs items 0..count−1 and returns when all are done; rethrows the first exception.</summary>
    public void Run(IParallelWork work, int count)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (count <= 0) return;
        if (Clock is not { } clock) { RunItems(work, count); return; }
        clock.Lap(PhaseClock.MainThread);
        try { RunItems(work, count); }
        finally { clock.Lap(work.Phase); }
    }

    private void RunItems(IParallelWork work, int count)
    {
        int helpers = Math.Min(Threads - 1, count - 1);
        if (helpers == 0)
        {
            for (int i = 0; i < count; i++) work.Execute(i, 0);
            return;
        }
        _work = work; _count = count; _next = 0; _error = null;
        _remaining = helpers + 1;
        _done.Reset();
        for (int w = 1; w <= helpers; w++) _start[w].Set();
        Drain(0);
        if (Interlocked.Decrement(ref _remaining) != 0) _done.Wait();
        _work = null;
        if (_error is { } e) throw new AggregateException("A fused-engine worker failed.", e);
    }

    private void Drain(int worker)
    {
        var work = _work!;
        while (true)
        {
            int i = Interlocked.Increment(ref _next) - 1;
            if (i >= _count) return;
            try { work.Execute(i, worker); }
            catch (Exception e)
            {
                Interlocked.CompareExchange(ref _error, e, null);
                Volatile.Write(ref _next, _count);
                return;
            }
        }
    }

    private void Loop(int w)
    {
        while (true)
        {
            _start[w].Wait();
            _start[w].Reset();
            if (_disposed) return;
            Drain(w);
            if (Interlocked.Decrement(ref _remaining) == 0) _done.Set();
        }
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        for (int w = 1; w < Threads; w++) _start[w].Set();
        for (int w = 1; w < Threads; w++) _threads[w].Join();
        for (int w = 1; w < Threads; w++) _start[w].Dispose();
        _done.Dispose();
    }
}
