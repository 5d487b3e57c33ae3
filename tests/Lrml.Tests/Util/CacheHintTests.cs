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
}
