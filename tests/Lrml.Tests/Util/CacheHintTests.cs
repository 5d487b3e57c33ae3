using Lrml.Util;

namespace Lrml.Tests.Util;

public class CacheHintTests
{
    [Fact]
    public void OutOfRangeIndicesAreIgnoredAndNothingIsWritten()
    {
        var a = new int[] { 7, 8, 9 };
        foreach (long i in new long[] { -1, 0, 2, 3, long.MaxValue, long.MinValue }) CacheHint.Prefetch(a, i);
        CacheHint.Prefetch(Array.Empty<ulong>(), 0);
        Assert.Equal(new[] { 7, 8, 9 }, a);
    }

    [Fact]
    public void RangesReachingOutsideTheArrayAreClippedAndNothingIsWritten()
    {
        var a = new float[40];
        for (int i = 0; i < a.Length; i++) a[i] = i;
        foreach (var (start, len) in new (long, int)[] { (-20, 30), (0, 40), (16, 16), (30, 64), (40, 1), (long.MaxValue, 16), (long.MinValue, 16), (5, -3) })
            CacheHint.PrefetchRange(a, start, len);
        CacheHint.PrefetchRange(Array.Empty<double>(), 0, 8);
        Assert.Equal(Enumerable.Range(0, 40).Select(i => (float)i), a);
    }
}
