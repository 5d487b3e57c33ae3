using Lrml.Analysis;

namespace Lrml.Tests.Analysis;

public class SubsampleTests
{
    [Fact]
    public void UniformGivesSortedDistinctRowsDeterministically()
    {
        var a = Subsample.Uniform(1000, 100, 7);
        Assert.Equal(100, a.Length);
        Assert.Equal(100, a.Distinct().Count());
        Assert.Equal(a.Order().ToArray(), a);
        Assert.All(a, i => Assert.InRange(i, 0, 999));
        Assert.Equal(a, Subsample.Uniform(1000, 100, 7));
        Assert.NotEqual(a, Subsample.Uniform(1000, 100, 8));
        Assert.Equal(Enumerable.Range(0, 5).ToArray(), Subsample.Uniform(5, 9, 1));
        Assert.Empty(Subsample.Uniform(5, 0, 1));
        // Each row is equally likely: over many seeds row 0 is kept about m/n of the time.
        int hits = 0;
        for (int s = 0; s < 2000; s++) if (Subsample.Uniform(10, 3, s)[0] == 0) hits++;
        Assert.InRange(hits / 2000.0, 0.25, 0.35);
    }

    [Fact]
    public void StratifiedCapsEachClassAndKeepsSmallClasses()
    {
        var labels = new int[300];
        for (int i = 0; i < 300; i++) labels[i] = i < 200 ? 0 : i < 290 ? 1 : 3; // 200, 90, 0, 10
        var idx = Subsample.Stratified(labels, 50, 3);
        var kept = idx.Select(i => labels[i]).ToArray();
        Assert.Equal(50, kept.Count(l => l == 0));
        Assert.Equal(50, kept.Count(l => l == 1));
        Assert.Equal(10, kept.Count(l => l == 3));
        Assert.Equal(idx.Order().ToArray(), idx);
        Assert.Equal(idx.Length, idx.Distinct().Count());
        Assert.Equal(idx, Subsample.Stratified(labels, 50, 3));
        Assert.NotEqual(idx, Subsample.Stratified(labels, 50, 4));
    }

    [Fact]
    public void RowsAndGatherCopyTheListedRows()
    {
        float[] x = [0, 1, 10, 11, 20, 21];
        Assert.Equal([20f, 21f, 0f, 1f], Subsample.Rows(x, 2, [2, 0]));
        Assert.Equal(["c", "a"], Subsample.Gather(["a", "b", "c"], [2, 0]));
        Assert.Throws<ArgumentException>(() => Subsample.Rows(x, 2, [3]));
        Assert.Throws<ArgumentException>(() => Subsample.Gather([1, 2], [-1]));
        Assert.Throws<ArgumentException>(() => Subsample.Stratified([0, -1], 1, 0));
    }
}
