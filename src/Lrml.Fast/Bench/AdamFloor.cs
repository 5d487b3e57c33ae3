using System.Diagnostics;
using Lrml.Models;
using Lrml.Util;

namespace Lrml.Fast.Bench;

/// <summary>
/// Exact Adam's arithmetic floor on the machine the bench runs on. A fused engine that sweeps its tables updates every float
/// of P and Q at every step — two moment updates, a square root and two divisions per float (PyTorch's formula, bit for bit)
/// — and that work is bound by the processor's divider, not by memory: a standalone loop of it ran at 0.72 ns per float on one
/// core of the CI's Intel Xeon for tables of 16 k to 655 k floats, and this class measured 0.38 ns on the AMD EPYC of
/// 12-04, on one core and on both at once. So the bench times that update as the shared engine computes it
/// (<see cref="EmbeddingEngine.Step"/>, 512-bit lanes where the processor has them; LRML's and TransCF's sweeps do the same
/// arithmetic per float, LRML's in 256-bit lanes with a clip around it) over the floats one thread sweeps, on as many
/// threads at once as the step sweeps with, in calls of 4,096 floats (no per-row calls, no gradient sums, nothing else in
/// the step): a step's sweep is not expected to beat it, so a throughput target above the cap it gives is out of reach on
/// this machine with exact Adam, whatever the rest of the engine does.
/// </summary>
internal static class AdamFloor
{
    private const int Block = 4096;

    /// <summary>Nanoseconds per float of exact Adam's update over a table of <paramref name="floats"/> floats (a zero gradient
    /// and moments in the normal range, as an untouched row of a sweep), on <paramref name="threads"/> threads at once, each
    /// over a table of its own: a step's sweep runs on all its threads together, sharing the caches and the memory bus, so
    /// the floor is timed the same way. The threads start timing together (after every table is built) and each keeps its
    /// fastest pass, from at least <paramref name="passes"/> timed passes repeated for at least <paramref name="minSeconds"/>
    /// and until its fastest has not improved for half as long (at most 10 s); every thread goes on until all are done, and a
    /// pass that ends after one thread has stopped is not counted, so every counted pass shared the machine alike.
    /// Interference only ever adds time, and the update must have reached its optimised code — the runtime compiles it first
    /// without optimisation and recompiles it after it has run a while, and a first pass measured 3 – 8× slower. The result
    /// is the slowest thread's fastest pass (the busier thread bounds a step).</summary>
    public static double NanosecondsPerFloat(long floats, int threads = 1, int passes = 7, double minSeconds = 0.3)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(floats, 1L);
        ArgumentOutOfRangeException.ThrowIfLessThan(threads, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(passes, 1);
        int n = (int)Math.Min((floats + 63) / 64 * 64, Array.MaxLength / 64 * 64);
        var best = new double[threads];
        int satisfied = 0, stop = 0;
        var total = new Stopwatch();
        using var ready = new Barrier(threads, _ => total.Start());   // timing starts when every table is built
        Exception? error = null;
        void Measure(int t)
        {
            bool done = false, started = false;
            try
            {
                var w = LargeArrays.Floats(n); var m = LargeArrays.Floats(n); var v = LargeArrays.Floats(n);
                var m0 = new float[n]; var v0 = new float[n];
                var g = new float[Block];
                var rng = new Rng(1, "bench.adam-floor." + t);
                for (int i = 0; i < n; i++)
                {
                    w[i] = (float)(0.1 * rng.NextGaussian());
                    m0[i] = (float)(1e-3 * rng.NextGaussian());
                    v0[i] = 1e-6f * (1f + rng.NextFloat());
                }
                var f = StepFactors.At(1e-3f, 1000);
                double fastest = double.PositiveInfinity, fastestAt = 0;
                var sw = new Stopwatch();
                ready.SignalAndWait();
                started = true;
                for (int pass = 0; Volatile.Read(ref stop) == 0; pass++)
                {
                    double now = total.Elapsed.TotalSeconds;
                    if (!done && pass >= passes && ((now >= minSeconds && now - fastestAt >= minSeconds / 2) || now >= 10))
                    {
                        done = true;
                        if (Interlocked.Increment(ref satisfied) == threads) Volatile.Write(ref stop, 1);
                        continue;
                    }
                    m0.CopyTo(m, 0); v0.CopyTo(v, 0);   // the same moments every pass (untimed): they never decay into the subnormal range
                    sw.Restart();
                    for (int o = 0; o < n; o += Block)
                        EmbeddingEngine.Step(OptimizerKind.Adam, f, ref w[o], ref m[o], ref v[o], ref g[0], Math.Min(Block, n - o));
                    double s = sw.Elapsed.TotalSeconds;
                    if (s < fastest && Volatile.Read(ref stop) == 0) { fastest = s; fastestAt = total.Elapsed.TotalSeconds; }
                }
                best[t] = fastest;
            }
            catch (Exception e)
            {
                Interlocked.CompareExchange(ref error, e, null);
                Volatile.Write(ref stop, 1);   // the others stop too
                if (!started) ready.RemoveParticipant();   // and do not wait at the start for this one
            }
        }
        var others = Enumerable.Range(1, threads - 1).Select(t => new Thread(() => Measure(t)) { IsBackground = true }).ToList();
        others.ForEach(x => x.Start());
        Measure(0);
        others.ForEach(x => x.Join());
        if (error is not null) throw new InvalidOperationException("Timing exact Adam's floor failed.", error);
        return best.Max() * 1e9 / n;
    }

    /// <summary>Seconds a step needs at least to sweep <paramref name="sweptFloats"/> floats on <paramref name="threads"/>
    /// threads at <paramref name="nanosPerFloat"/> per float and thread (the busiest thread's share; perfect scaling).</summary>
    public static double StepSeconds(long sweptFloats, int threads, double nanosPerFloat) =>
        Math.Ceiling((double)sweptFloats / Math.Max(1, threads)) * nanosPerFloat * 1e-9;
}
