using Lrml.Analysis;
using Lrml.Util;

namespace Lrml.Tests.Analysis;

public class LabelMeansTests
{
    [Fact]
    public void MeansByLabelByHand()
    {
        float[] v = [1, 0, 0, 3, 1, 1, 0.5f, 0.5f, 0, 1];
        int[] labels = [0, 2, 0, 2, 0];
        var r = LabelMeans.MeanByLabel(v, 5, 2, labels, 3);
        Assert.Equal([3, 0, 2], r.Counts);
        // label 0: rows (1,0), (1,1), (0,1) → (2/3, 2/3); label 2: rows (0,3), (0.5,0.5) → (0.25, 1.75)
        Assert.Equal(2 / 3.0, r.Means[0], 1e-12);
        Assert.Equal(2 / 3.0, r.Means[1], 1e-12);
        Assert.True(double.IsNaN(r.Means[2]) && double.IsNaN(r.Means[3]));
        Assert.Equal(0.25, r.Means[4], 1e-12);
        Assert.Equal(1.75, r.Means[5], 1e-12);
        Assert.Equal([2.5 / 5, 5.5 / 5], r.OverallMean, (a, b) => Math.Abs(a - b) < 1e-12);
        Assert.Equal([0, 1, 0, 0, 1], LabelMeans.Argmax(v, 5, 2)); // (1,1) and (0.5,0.5) tie → the first slot
    }

    [Fact]
    public void MutualInformationByHand()
    {
        var same = LabelMeans.MutualInformation([0, 0, 1, 1], 2, [0, 0, 1, 1], 2, shuffles: 0);
        Assert.Equal(Math.Log(2), same.MutualInformation, 1e-12);
        Assert.Equal(1, same.Normalized, 1e-12);
        Assert.Equal(0, LabelMeans.MutualInformation([0, 1, 0, 1], 2, [0, 0, 1, 1], 2, shuffles: 0).MutualInformation, 1e-12);
        // a = 0 0 0 1, b = 0 0 1 1: p(a0) = 3/4, p(b) = 1/2 each; cells (0,0) 2/4, (0,1) 1/4, (1,1) 1/4.
        var r = LabelMeans.MutualInformation([0, 0, 0, 1], 2, [0, 0, 1, 1], 2, shuffles: 0);
        double expected = 0.5 * Math.Log(0.5 / (0.75 * 0.5)) + 0.25 * Math.Log(0.25 / (0.75 * 0.5)) + 0.25 * Math.Log(0.25 / (0.25 * 0.5));
        Assert.Equal(expected, r.MutualInformation, 1e-12);
        Assert.Equal(-(0.75 * Math.Log(0.75) + 0.25 * Math.Log(0.25)), r.EntropyA, 1e-12);
        Assert.Equal(Math.Log(2), r.EntropyB, 1e-12);
        Assert.Equal([2, 0, 1, 1], r.Contingency); // row = b, column = a
    }

    [Fact]
    public void AttentionAlignedWithLabelsBeatsTheShuffledBaseline()
    {
        const int n = 1000, slots = 8, classes = 4;
        var rng = new Rng(3, "test.attention");
        var att = new float[n * slots];
        var labels = new int[n];
        var unrelated = new int[n];
        for (int i = 0; i < n; i++)
        {
            labels[i] = rng.NextInt(classes);
            unrelated[i] = rng.NextInt(classes);
            for (int s = 0; s < slots; s++) att[i * slots + s] = (float)rng.NextDouble();
            if (rng.NextDouble() < 0.7) att[i * slots + 2 * labels[i]] += 1; // slot 2c usually wins for label c
        }
        var r = LabelMeans.ArgmaxMutualInformation(att, n, slots, labels, classes, shuffles: 50, seed: 1);
        Assert.True(r.MutualInformation > 0.3, $"MI {r.MutualInformation}");
        Assert.True(r.ZScore > 20);
        Assert.True(r.ShuffledMean < 0.05);
        Assert.Equal(1 / 51.0, r.PValue, 1e-12);
        Assert.Equal(r.MutualInformation - r.ShuffledMean, r.Excess, 1e-12);

        var none = LabelMeans.ArgmaxMutualInformation(att, n, slots, unrelated, classes, shuffles: 50, seed: 1);
        Assert.InRange(none.ZScore, -3.5, 3.5);
        Assert.True(none.MutualInformation < 0.05);

        var means = LabelMeans.MeanByLabel(att, n, slots, labels, classes);
        for (int c = 0; c < classes; c++)
        {
            double own = means.Means[c * slots + 2 * c];
            for (int s = 0; s < slots; s++) if (s != 2 * c) Assert.True(own > means.Means[c * slots + s] + 0.4);
        }
    }

    [Fact]
    public void RejectsBadInput()
    {
        Assert.Throws<ArgumentException>(() => LabelMeans.MeanByLabel([1, 2, 3], 3, 1, [0, 1, 5], 2));
        Assert.Throws<ArgumentException>(() => LabelMeans.MeanByLabel([1, 2, 3], 2, 1, [0, 1], 2));
        Assert.Throws<ArgumentException>(() => LabelMeans.MutualInformation([0, 1], 2, [0], 2));
    }
}

public class BinningTests
{
    [Fact]
    public void QuantileBinsSplitEvenlyAndKeepTiesTogether()
    {
        var (labels, upper) = Binning.Quantile([5, 1, 4, 2, 3, 6], 3);
        Assert.Equal([2, 0, 1, 0, 1, 2], labels);
        Assert.Equal([2.0, 4.0, 6.0], upper);
        // Ties: the three 1s stay together in bin 0; bin 1 starts at position 3.
        var (tied, _) = Binning.Quantile([1, 1, 1, 2, 3, 4], 2);
        Assert.Equal([0, 0, 0, 1, 1, 1], tied);
        var (heavy, edges) = Binning.Quantile([7, 7, 7, 7, 8], 4);
        Assert.Equal([0, 0, 0, 0, 3], heavy);
        Assert.True(double.IsNaN(edges[1]) && double.IsNaN(edges[2]));
        Assert.Throws<ArgumentException>(() => Binning.Quantile([1, double.NaN], 2));
    }
}
