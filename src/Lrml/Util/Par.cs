using System.Runtime.ExceptionServices;

namespace Lrml.Util;

/// <summary>
/// Parallel loops with an explicit degree of parallelism, shared by the evaluator and the analysis toolkit.
/// Work items never share mutable state, so the result does not depend on how items are scheduled. One thread,
/// or fewer than two items, runs inline on the calling thread; a failing item rethrows its own exception (with
/// its stack trace), not an <see cref="AggregateException"/>.
/// </summary>
internal static class Par
{
    /// <summary>Runs <paramref name="body"/> for every index in [<paramref name="from"/>, <paramref name="to"/>).</summary>
    public static void For(int from, int to, int threads, Action<int> body)
    {
        if (threads == 1 || to - from < 2) { for (int i = from; i < to; i++) body(i); return; }
        try { Parallel.For(from, to, new ParallelOptions { MaxDegreeOfParallelism = threads }, body); }
        catch (AggregateException ae) when (ae.InnerExceptions.Count > 0) { ExceptionDispatchInfo.Capture(ae.InnerExceptions[0]).Throw(); }
    }

    /// <summary>As <see cref="For(int, int, int, Action{int})"/>, with per-worker scratch state from <paramref name="init"/>
    /// (one instance per worker, reused across that worker's items).</summary>
    public static void For<T>(int from, int to, int threads, Func<T> init, Action<int, T> body)
    {
        if (threads == 1 || to - from < 2)
        {
            var s = init();
            for (int i = from; i < to; i++) body(i, s);
            return;
        }
        try
        {
            Parallel.For(from, to, new ParallelOptions { MaxDegreeOfParallelism = threads }, init,
                (i, _, s) => { body(i, s); return s; }, _ => { });
        }
        catch (AggregateException ae) when (ae.InnerExceptions.Count > 0) { ExceptionDispatchInfo.Capture(ae.InnerExceptions[0]).Throw(); }
    }
}
