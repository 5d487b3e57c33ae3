using Lrml.Analysis;

namespace Lrml.Tests.Analysis;

public class KnnProbeTests
{
    // Six points on a line with labels 0 0 1 1 1 0.
    private static readonly float[] Line = [0, 1, 3, 7, 8, 10];
    private static readonly int[] LineLabels = [0, 0, 1, 1, 1, 0];
    private static int[] LeaveOneOut(int n) => Enumerable.Range(0, n).ToArray();

    [Fact]
    public void HandComputedLeaveOneOutNeighboursAndAccuracy()
    {
        var nb = KnnSearch.WithinFolds(Line, 6, 1, LeaveOneOut(6), 3, KnnMetric.Euclidean);
        // Point 3 (x = 7): neighbours 8 (d 1), 10 (d 3), 3 (d 4).
        Assert.Equal([4, 5, 2], nb.Index[9..12]);
        Assert.Equal([1f, 3f, 4f], nb.Distance[9..12], (a, b) => Math.Abs(a - b) < 1e-5);
        // Point 1 (x = 1): 0 (d 1), 3 (d 2), 7 (d 6).
        Assert.Equal([0, 2, 3], nb.Index[3..6]);

        // k = 1: predictions 0 0 0 1 1 1 → 4 of 6 right; confusion [[2, 1], [1, 2]]; F1 = 2/3 per class.
        var k1 = KnnProbe.Classify(Line, 6, 1, LineLabels, 2, LeaveOneOut(6), new KnnOptions { K = 1, Shuffles = 0 });
        Assert.Equal([0, 0, 0, 1, 1, 1], k1.Predicted);
        Assert.Equal(4 / 6.0, k1.Accuracy, 1e-12);
        Assert.Equal([2, 1, 1, 2], k1.Confusion);
        Assert.Equal(2 / 3.0, k1.MacroF1, 1e-12);
        Assert.Equal(0.5, k1.MajorityRate);
        Assert.Equal(0, k1.MajorityClass);
        Assert.True(double.IsNaN(k1.ZScore));

        // k = 3: votes give 1 1 0 1 1 1 → points 3 and 4 (x = 7, 8) right only: 2 of 6.
        var k3 = KnnProbe.Classify(Line, 6, 1, LineLabels, 2, LeaveOneOut(6), new KnnOptions { K = 3, Shuffles = 0 });
        Assert.Equal([1, 1, 0, 1, 1, 1], k3.Predicted);
        Assert.Equal(2 / 6.0, k3.Accuracy, 1e-12);
        // class 0: TP 0 → F1 0; class 1: TP 2, support 3, predicted 5 → 4/8.
        Assert.Equal((0 + 0.5) / 2, k3.MacroF1, 1e-12);

        // k = 2 for point 1: neighbours 0 (label 0, d 1) and 3 (label 1, d 2) tie 1–1 → the nearer one's label.
        var k2 = KnnProbe.Classify(Line, 6, 1, LineLabels, 2, LeaveOneOut(6), new KnnOptions { K = 2, Shuffles = 0 });
        Assert.Equal(0, k2.Predicted[1]);
    }

    [Fact]
    public void CosineDistanceUsesAnglesOnly()
    {
        // Query (1, 0); others at 10°, 80° (long), 180° and a zero vector.
        float[] x = [1, 0, (float)Math.Cos(0.1745), (float)Math.Sin(0.1745), 9 * (float)Math.Cos(1.396), 9 * (float)Math.Sin(1.396), -3, 0, 0, 0];
        int[] folds = LeaveOneOut(5);
        var nb = KnnSearch.WithinFolds(x, 5, 2, folds, 4, KnnMetric.Cosine);
        Assert.Equal([1, 2, 4, 3], nb.Index[0..4]);
        Assert.Equal(1 - Math.Cos(0.1745), nb.Distance[0], 1e-6);
        Assert.Equal(1 - Math.Cos(1.396), nb.Distance[1], 1e-6);
        Assert.Equal(1, nb.Distance[2], 1e-6);   // zero vector
        Assert.Equal(2, nb.Distance[3], 1e-6);   // opposite direction
        var eu = KnnSearch.WithinFolds(x, 5, 2, folds, 4, KnnMetric.Euclidean);
        Assert.Equal([1, 4, 3, 2], eu.Index[0..4]); // 10° (d 0.17), zero vector (d 1), −3 (d 4), the long one (d 8.9)
    }

    [Fact]
    public void SeparatedClustersAreReadOffAndShuffledLabelsFallToChance()
    {
        const int n = 500, dim = 16;
        var (x, y) = AnalysisTestData.Blobs(n, dim, 5, 3.0, 2);
        var r = KnnProbe.Classify(x, n, dim, y, 5, new KnnOptions { K = 10, Folds = 5, Shuffles = 20, Seed = 3 });
        Assert.True(r.Accuracy >= 0.99, $"accuracy {r.Accuracy}");
        Assert.True(r.MacroF1 >= 0.99);
        Assert.Equal(0.2, r.MajorityRate);
        Assert.InRange(r.ShuffledAccuracyMean, 0.15, 0.25);
        Assert.True(r.ShuffledAccuracyStd > 0);
        Assert.True(r.ZScore > 20, $"z {r.ZScore}");
        Assert.Equal(1 / 21.0, r.PValue, 1e-12);
        Assert.Equal(20, r.ShuffledAccuracies.Length);
        Assert.Equal(n, r.Confusion.Sum());
        Assert.Equal(5, r.Folds);
    }

    [Fact]
    public void PureNoiseIsIndistinguishableFromShuffledLabels()
    {
        const int n = 600, dim = 10;
        var x = AnalysisTestData.Noise(n, dim, 7);
        var y = AnalysisTestData.RandomLabels(n, 3, 7);
        foreach (var metric in new[] { KnnMetric.Euclidean, KnnMetric.Cosine })
        {
            var r = KnnProbe.Classify(x, n, dim, y, 3, new KnnOptions { K = 10, Shuffles = 30, Seed = 1, Metric = metric });
            Assert.InRange(r.ZScore, -3.5, 3.5);
            Assert.InRange(r.Accuracy, 0.25, 0.42);
            Assert.InRange(r.ShuffledAccuracyMean, 0.28, 0.39);
        }
    }

    [Fact]
    public void StratifiedFoldsBalanceEveryClass()
    {
        var labels = AnalysisTestData.RandomLabels(203, 4, 5);
        var folds = KnnSearch.StratifiedFolds(labels, 4, 5, 1);
        Assert.Equal(folds, KnnSearch.StratifiedFolds(labels, 4, 5, 1));
        Assert.NotEqual(folds, KnnSearch.StratifiedFolds(labels, 4, 5, 2));
        var size = new int[5];
        foreach (int f in folds) size[f]++;
        Assert.True(size.Max() - size.Min() <= 1);
        for (int c = 0; c < 4; c++)
        {
            var perFold = new int[5];
            for (int i = 0; i < labels.Length; i++) if (labels[i] == c) perFold[folds[i]]++;
            Assert.True(perFold.Max() - perFold.Min() <= 1, $"class {c}: {string.Join(",", perFold)}");
        }
        var random = KnnSearch.RandomFolds(203, 5, 1);
        var rs = new int[5];
        foreach (int f in random) rs[f]++;
        Assert.True(rs.Max() - rs.Min() <= 1);
    }

    [Fact]
    public void ResultsDoNotDependOnTheThreadCount()
    {
        const int n = 257, dim = 9; // not a multiple of the tile or vector width
        var (x, y) = AnalysisTestData.Blobs(n, dim, 3, 0.7, 6);
        var o = new KnnOptions { K = 7, Shuffles = 5, Seed = 4 };
        var a = KnnProbe.Classify(x, n, dim, y, 3, o);
        var b = KnnProbe.Classify(x, n, dim, y, 3, o with { Threads = 2 });
        Assert.Equal(a.Predicted, b.Predicted);
        Assert.Equal(a.ShuffledAccuracies, b.ShuffledAccuracies);
        var folds = KnnSearch.StratifiedFolds(y, 3, 5, 0);
        var na = KnnSearch.WithinFolds(x, n, dim, folds, 7, KnnMetric.Euclidean, 1);
        var nb = KnnSearch.WithinFolds(x, n, dim, folds, 7, KnnMetric.Euclidean, 2);
        Assert.Equal(na.Index, nb.Index);
        Assert.Equal(na.Distance, nb.Distance);
        // Neighbours come from other folds only and distances are exact.
        for (int i = 0; i < n; i++)
            for (int m = 0; m < 7; m++)
            {
                int j = na.Index[i * 7 + m];
                Assert.NotEqual(folds[i], folds[j]);
                double d = 0;
                for (int c = 0; c < dim; c++) d += Math.Pow(x[i * dim + c] - x[j * dim + c], 2);
                Assert.Equal(Math.Sqrt(d), na.Distance[i * 7 + m], 1e-3);
            }
    }

    [Fact]
    public void RegressionHandExampleAndSignalVersusNoise()
    {
        // Leave-one-out, k = 2 on the line: predictions are means of the two nearest targets.
        double[] t = [1, 2, 3, 4, 5, 6];
        var r = KnnRegression.Evaluate(Line, 6, 1, t, LeaveOneOut(6), new KnnOptions { K = 2, Shuffles = 0 });
        // 0 → {1, 3}: 2.5; 1 → {0, 3}: 2; 3 → {1, 0}: 1.5; 7 → {8, 10}: 5.5; 8 → {7, 10}: 5; 10 → {8, 7}: 4.5
        Assert.Equal([2.5, 2, 1.5, 5.5, 5, 4.5], r.Predicted);
        Assert.Equal((1.5 + 0 + 1.5 + 1.5 + 0 + 1.5) / 6, r.Mae, 1e-12);
        // Medians of the other five targets: 4, 4, 4, 3, 3, 3 → |1−4|+|2−4|+|3−4|+|4−3|+|5−3|+|6−3| = 12.
        Assert.Equal(12 / 6.0, r.MedianMae, 1e-12);

        const int n = 400, dim = 6;
        var x = AnalysisTestData.Noise(n, dim, 12);
        var target = new double[n];
        for (int i = 0; i < n; i++) target[i] = 3 * x[i * dim] + 0.2 * x[i * dim + 1];
        var signal = KnnRegression.Evaluate(x, n, dim, target, new KnnOptions { K = 10, Shuffles = 20, Seed = 2 });
        Assert.True(signal.Spearman > 0.6, $"rho {signal.Spearman}");
        Assert.True(signal.Mae < signal.MedianMae);
        Assert.True(signal.MaeZScore > 5);
        Assert.True(signal.SpearmanZScore > 5);
        Assert.InRange(signal.ShuffledSpearmanMean, -0.1, 0.1);

        var noise = AnalysisTestData.Noise(n, 1, 99).Select(v => (double)v).ToArray();
        var none = KnnRegression.Evaluate(x, n, dim, noise, new KnnOptions { K = 10, Shuffles = 30, Seed = 2 });
        Assert.InRange(none.SpearmanZScore, -3.5, 3.5);
        Assert.InRange(none.MaeZScore, -3.5, 3.5);
    }

    [Fact]
    public void CorrelationsMatchHandValues()
    {
        Assert.Equal([1, 2.5, 2.5, 4], Correlation.Ranks([10, 20, 20, 30]));
        Assert.Equal([3, 1, 2], Correlation.Ranks([5, -1, 0]));
        Assert.Equal(1, Correlation.Spearman([1, 2, 3, 4], [1, 4, 9, 16]), 1e-12);
        Assert.Equal(-1, Correlation.Pearson([1, 2, 3], [6, 4, 2]), 1e-12);
        // Pearson of [1,2,3,4] and [1,3,2,4]: Σ da·db = 4, Σ da² = Σ db² = 5 → r = 0.8
        Assert.Equal(0.8, Correlation.Pearson([1, 2, 3, 4], [1, 3, 2, 4]), 1e-12);
        // Spearman with ties: ranks [1, 2.5, 2.5, 4] vs [1, 2, 3, 4] → r = 4.5 / √(4.5 · 5) = 0.9487
        Assert.Equal(4.5 / Math.Sqrt(4.5 * 5), Correlation.Spearman([1, 2, 2, 3], [1, 2, 3, 4]), 1e-12);
        Assert.True(double.IsNaN(Correlation.Pearson([1, 1, 1], [1, 2, 3])));
    }

    [Fact]
    public void RejectsBadInput()
    {
        Assert.Throws<ArgumentException>(() => KnnProbe.Classify(Line, 6, 1, [0, 0, 1, 1, 2, 0], 2));
        Assert.Throws<ArgumentException>(() => KnnSearch.WithinFolds(Line, 6, 1, [0, 0, 0, 0, 0, 1], 2, KnnMetric.Euclidean));
        Assert.Throws<ArgumentOutOfRangeException>(() => KnnProbe.Classify(Line, 6, 1, LineLabels, 2, new KnnOptions { Folds = 7 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => KnnSearch.WithinFolds(Line, 6, 1, LeaveOneOut(6), 0, KnnMetric.Euclidean));
        Assert.Throws<ArgumentException>(() => KnnRegression.Evaluate(Line, 6, 1, [1, 2, double.NaN, 4, 5, 6]));
        var overflow = Assert.Throws<ArgumentException>(() => KnnSearch.WithinFolds([3e20f, -3e20f, 1e20f, 0], 4, 1, LeaveOneOut(4), 1, KnnMetric.Euclidean));
        Assert.Contains("overflow", overflow.Message);
    }
}

public class GroupFoldTests
{
    [Fact]
    public void GroupsAreNeverSplitAndFoldsStayBalanced()
    {
        var rng = new Lrml.Util.Rng(5, "test.groups");
        var groups = new int[1000];
        for (int i = 0; i < groups.Length; i++) groups[i] = rng.NextInt(60) * 2; // 60 groups, sparse ids
        var folds = KnnSearch.GroupFolds(groups, 5, 1);
        Assert.Equal(folds, KnnSearch.GroupFolds(groups, 5, 1));
        var foldOf = new Dictionary<int, int>();
        for (int i = 0; i < groups.Length; i++)
        {
            if (foldOf.TryGetValue(groups[i], out int f)) Assert.Equal(f, folds[i]);
            else foldOf[groups[i]] = folds[i];
        }
        var size = new int[5];
        foreach (int f in folds) size[f]++;
        int largest = groups.GroupBy(g => g).Max(g => g.Count());
        Assert.True(size.Max() - size.Min() <= largest, string.Join(",", size));
        Assert.Throws<ArgumentOutOfRangeException>(() => KnnSearch.GroupFolds([0, 0, 1], 3, 0));

        // A probe with group folds never uses a row of the same group as a neighbour.
        var x = AnalysisTestData.Noise(1000, 3, 2);
        var nb = KnnSearch.WithinFolds(x, 1000, 3, folds, 5, KnnMetric.Euclidean);
        for (int i = 0; i < 1000; i++)
            for (int m = 0; m < 5; m++) Assert.NotEqual(groups[i], groups[nb.Index[i * 5 + m]]);
    }
}
