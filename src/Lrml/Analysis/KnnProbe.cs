using Lrml.Util;

namespace Lrml.Analysis;

/// <summary>Settings of <see cref="KnnProbe"/> and <see cref="KnnRegression"/>.</summary>
internal sealed record KnnOptions
{
    /// <summary>Neighbours per prediction.</summary>
    public int K { get; init; } = 10;

    /// <summary>Cross-validation folds (stratified by label for classification, random for regression).</summary>
    public int Folds { get; init; } = 5;

    /// <summary>Distance between vectors.</summary>
    public KnnMetric Metric { get; init; } = KnnMetric.Euclidean;

    /// <summary>Label permutations for the shuffled baseline (0 = no baseline). They reuse the neighbour lists,
    /// so each costs only O(n k).</summary>
    public int Shuffles { get; init; } = 20;

    /// <summary>Seed of the fold assignment and of the permutations.</summary>
    public long Seed { get; init; }

    /// <summary>Threads for the neighbour search.</summary>
    public int Threads { get; init; } = 1;
}

/// <summary>Cross-validated k-NN classification of labels from vectors, with its chance baselines.</summary>
internal sealed record KnnClassificationResult
{
    /// <summary>Number of rows.</summary>
    public required int N { get; init; }
    /// <summary>Number of label values C (labels are 0..C−1).</summary>
    public required int Classes { get; init; }
    /// <summary>Classes that occur (support &gt; 0); macro-F1 averages over these.</summary>
    public required int ClassesPresent { get; init; }
    /// <summary>Neighbours per prediction.</summary>
    public required int K { get; init; }
    /// <summary>Number of folds.</summary>
    public required int Folds { get; init; }
    /// <summary>Distance used.</summary>
    public required KnnMetric Metric { get; init; }
    /// <summary>Fraction of rows whose predicted label equals the true label (pooled over folds).</summary>
    public required double Accuracy { get; init; }
    /// <summary>Unweighted mean over present classes of F1 = 2PR/(P+R) (0 for a class never predicted).</summary>
    public required double MacroF1 { get; init; }
    /// <summary>Chance: share of the most frequent class (accuracy of always predicting it).</summary>
    public required double MajorityRate { get; init; }
    /// <summary>The most frequent class (smallest label on ties).</summary>
    public required int MajorityClass { get; init; }
    /// <summary>Mean accuracy with permuted labels (same folds and neighbours).</summary>
    public required double ShuffledAccuracyMean { get; init; }
    /// <summary>Sample standard deviation of the permuted-label accuracies.</summary>
    public required double ShuffledAccuracyStd { get; init; }
    /// <summary>Mean macro-F1 with permuted labels.</summary>
    public required double ShuffledMacroF1Mean { get; init; }
    /// <summary>Standard deviation of the permuted-label macro-F1 values.</summary>
    public required double ShuffledMacroF1Std { get; init; }
    /// <summary>(Accuracy − ShuffledAccuracyMean) / ShuffledAccuracyStd (±∞ when the spread is 0, NaN without shuffles).</summary>
    public required double ZScore { get; init; }
    /// <summary>The same z-score for macro-F1.</summary>
    public required double MacroF1ZScore { get; init; }
    /// <summary>Permutation p-value of the accuracy: (1 + #{shuffled ≥ observed}) / (1 + shuffles).</summary>
    public required double PValue { get; init; }
    /// <summary>Accuracy of each permutation.</summary>
    public required double[] ShuffledAccuracies { get; init; }
    /// <summary>Confusion counts, row-major C × C, row = true label, column = predicted label.</summary>
    public required int[] Confusion { get; init; }
    /// <summary>Predicted label of each row (from the rows of the other folds).</summary>
    public required int[] Predicted { get; init; }
}

/// <summary>Cross-validated k-NN regression of a continuous target from vectors, with its chance baselines.</summary>
internal sealed record KnnRegressionResult
{
    /// <summary>Number of rows.</summary>
    public required int N { get; init; }
    /// <summary>Neighbours per prediction.</summary>
    public required int K { get; init; }
    /// <summary>Number of folds.</summary>
    public required int Folds { get; init; }
    /// <summary>Distance used.</summary>
    public required KnnMetric Metric { get; init; }
    /// <summary>Mean absolute error of the neighbour-mean prediction.</summary>
    public required double Mae { get; init; }
    /// <summary>Spearman rank correlation (average ranks for ties) of predictions and targets.</summary>
    public required double Spearman { get; init; }
    /// <summary>Pearson correlation of predictions and targets.</summary>
    public required double Pearson { get; init; }
    /// <summary>Constant baseline: MAE of predicting each fold's training median.</summary>
    public required double MedianMae { get; init; }
    /// <summary>Mean MAE with permuted targets (same folds and neighbours).</summary>
    public required double ShuffledMaeMean { get; init; }
    /// <summary>Standard deviation of the permuted-target MAE values.</summary>
    public required double ShuffledMaeStd { get; init; }
    /// <summary>Mean Spearman correlation with permuted targets.</summary>
    public required double ShuffledSpearmanMean { get; init; }
    /// <summary>Standard deviation of the permuted-target Spearman correlations.</summary>
    public required double ShuffledSpearmanStd { get; init; }
    /// <summary>(ShuffledMaeMean − Mae) / ShuffledMaeStd: positive when the vectors predict better than chance.</summary>
    public required double MaeZScore { get; init; }
    /// <summary>(Spearman − ShuffledSpearmanMean) / ShuffledSpearmanStd.</summary>
    public required double SpearmanZScore { get; init; }
    /// <summary>Permutation p-value of the Spearman correlation: (1 + #{shuffled ≥ observed}) / (1 + shuffles).</summary>
    public required double PValue { get; init; }
    /// <summary>Spearman correlation of each permutation.</summary>
    public required double[] ShuffledSpearman { get; init; }
    /// <summary>Prediction for each row (mean target of its k neighbours in the other folds).</summary>
    public required double[] Predicted { get; init; }
}

/// <summary>
/// k-NN probe: how well a label can be read off vectors (e.g. star rating, time bucket or genre from LRML's relation
/// vectors r(u,i)). Majority vote of the k nearest rows from the other folds (stratified K-fold); a vote tie goes
/// to the tied class with the nearest neighbour. Chance is measured two ways: the majority-class rate and the same
/// probe with labels permuted (folds and neighbour lists kept, so each permutation is cheap); the z-score places
/// the observed accuracy in the permutation distribution.
/// </summary>
internal static class KnnProbe
{
    /// <summary>Probe with stratified folds drawn from <see cref="KnnOptions.Seed"/>.</summary>
    /// <param name="x">Row-major n × dim vectors.</param>
    /// <param name="n">Rows.</param>
    /// <param name="dim">Columns.</param>
    /// <param name="labels">Label of each row in [0, classes).</param>
    /// <param name="classes">Number of label values.</param>
    /// <param name="options">Settings (defaults: k = 10, 5 folds, Euclidean, 20 shuffles).</param>
    public static KnnClassificationResult Classify(float[] x, int n, int dim, int[] labels, int classes, KnnOptions? options = null)
    {
        var o = options ?? new KnnOptions();
        Guard.Labels(labels, n, classes);
        var folds = KnnSearch.StratifiedFolds(labels, classes, o.Folds, o.Seed);
        return Classify(x, n, dim, labels, classes, folds, o);
    }

    /// <summary>Probe with an explicit fold of each row (e.g. leave-one-out: folds[i] = i, or folds grouped by user).</summary>
    public static KnnClassificationResult Classify(float[] x, int n, int dim, int[] labels, int classes, int[] folds, KnnOptions? options = null)
    {
        var o = options ?? new KnnOptions();
        Guard.Labels(labels, n, classes);
        if (o.Shuffles < 0) throw new ArgumentOutOfRangeException(nameof(o.Shuffles), o.Shuffles, "Shuffles must not be negative.");
        var nb = KnnSearch.WithinFolds(x, n, dim, folds, o.K, o.Metric, o.Threads);
        return FromNeighbours(nb, labels, classes, o.Shuffles, o.Seed, o.Metric);
    }

    /// <summary>Scores precomputed neighbours (lets several label sets share one neighbour search).</summary>
    internal static KnnClassificationResult FromNeighbours(KnnNeighbours neighbours, int[] labels, int classes, int shuffles, long seed, KnnMetric metric)
    {
        ArgumentNullException.ThrowIfNull(neighbours);
        int n = neighbours.N, k = neighbours.K;
        Guard.Labels(labels, n, classes);
        if (n == 0) throw new ArgumentException("No rows to probe.", nameof(labels));
        var support = new int[classes];
        foreach (int l in labels) support[l]++;
        int majority = 0, present = 0;
        for (int c = 0; c < classes; c++)
        {
            if (support[c] > support[majority]) majority = c;
            if (support[c] > 0) present++;
        }

        var votes = new int[classes];
        var predicted = new int[n];
        Predict(neighbours, labels, votes, predicted);
        var confusion = new int[classes * classes];
        int correct = 0;
        for (int i = 0; i < n; i++)
        {
            confusion[labels[i] * classes + predicted[i]]++;
            if (predicted[i] == labels[i]) correct++;
        }
        double acc = (double)correct / n;
        double f1 = MacroF1(confusion, classes);

        var shuffledAcc = new double[shuffles];
        var shuffledF1 = new double[shuffles];
        if (shuffles > 0)
        {
            var rng = new Rng(seed, "analysis.knn.shuffle");
            var perm = (int[])labels.Clone();
            var pred = new int[n];
            var conf = new int[classes * classes];
            for (int s = 0; s < shuffles; s++)
            {
                rng.Shuffle(perm.AsSpan());
                Predict(neighbours, perm, votes, pred);
                Array.Clear(conf);
                int ok = 0;
                for (int i = 0; i < n; i++)
                {
                    conf[perm[i] * classes + pred[i]]++;
                    if (pred[i] == perm[i]) ok++;
                }
                shuffledAcc[s] = (double)ok / n;
                shuffledF1[s] = MacroF1(conf, classes);
            }
        }
        var (am, asd) = Num.MeanStd(shuffledAcc);
        var (fm, fsd) = Num.MeanStd(shuffledF1);
        int foldCount = 0;
        foreach (int f in neighbours.Folds) foldCount = Math.Max(foldCount, f + 1);
        return new KnnClassificationResult
        {
            N = n, Classes = classes, ClassesPresent = present, K = k, Folds = foldCount, Metric = metric,
            Accuracy = acc, MacroF1 = f1, MajorityRate = (double)support[majority] / n, MajorityClass = majority,
            ShuffledAccuracyMean = am, ShuffledAccuracyStd = asd, ShuffledMacroF1Mean = fm, ShuffledMacroF1Std = fsd,
            ZScore = Num.ZScore(acc, am, asd), MacroF1ZScore = Num.ZScore(f1, fm, fsd),
            PValue = Num.UpperPValue(acc, shuffledAcc), ShuffledAccuracies = shuffledAcc,
            Confusion = confusion, Predicted = predicted,
        };
    }

    /// <summary>Majority vote over each row's neighbours; ties go to the tied class met first in distance order.</summary>
    private static void Predict(KnnNeighbours nb, int[] labels, int[] votes, int[] predicted)
    {
        int n = nb.N, k = nb.K;
        var idx = nb.Index;
        for (int i = 0; i < n; i++)
        {
            int o = i * k, best = 0;
            for (int m = 0; m < k; m++)
            {
                int v = ++votes[labels[idx[o + m]]];
                if (v > best) best = v;
            }
            int pick = -1;
            for (int m = 0; m < k && pick < 0; m++)
            {
                int l = labels[idx[o + m]];
                if (votes[l] == best) pick = l;
            }
            predicted[i] = pick;
            for (int m = 0; m < k; m++) votes[labels[idx[o + m]]] = 0;
        }
    }

    /// <summary>Macro-F1 over classes with support (row sum) &gt; 0, from a C × C confusion matrix (row = truth).</summary>
    public static double MacroF1(int[] confusion, int classes)
    {
        ArgumentNullException.ThrowIfNull(confusion);
        if (confusion.Length != classes * classes) throw new ArgumentException($"confusion must be {classes} × {classes}.", nameof(confusion));
        double sum = 0;
        int present = 0;
        for (int c = 0; c < classes; c++)
        {
            long tp = confusion[c * classes + c], support = 0, predicted = 0;
            for (int j = 0; j < classes; j++) { support += confusion[c * classes + j]; predicted += confusion[j * classes + c]; }
            if (support == 0) continue;
            present++;
            // F1 = 2TP / (support + predicted); 0 when nothing is predicted correctly.
            sum += tp == 0 ? 0 : 2.0 * tp / (support + predicted);
        }
        return present == 0 ? double.NaN : sum / present;
    }
}

/// <summary>
/// k-NN regression probe: predicts a continuous target (e.g. the rating as a number, or the timestamp) as the mean
/// target of the k nearest rows from the other folds (random K-fold), and reports MAE and Spearman correlation
/// against two chance levels: the training-median constant and the same probe with targets permuted.
/// </summary>
internal static class KnnRegression
{
    /// <summary>Probe with random folds drawn from <see cref="KnnOptions.Seed"/>.</summary>
    public static KnnRegressionResult Evaluate(float[] x, int n, int dim, double[] targets, KnnOptions? options = null)
    {
        var o = options ?? new KnnOptions();
        Guard.Targets(targets, n);
        var folds = KnnSearch.RandomFolds(n, o.Folds, o.Seed);
        return Evaluate(x, n, dim, targets, folds, o);
    }

    /// <summary>Probe with an explicit fold of each row.</summary>
    public static KnnRegressionResult Evaluate(float[] x, int n, int dim, double[] targets, int[] folds, KnnOptions? options = null)
    {
        var o = options ?? new KnnOptions();
        Guard.Targets(targets, n);
        if (o.Shuffles < 0) throw new ArgumentOutOfRangeException(nameof(o.Shuffles), o.Shuffles, "Shuffles must not be negative.");
        var nb = KnnSearch.WithinFolds(x, n, dim, folds, o.K, o.Metric, o.Threads);
        return FromNeighbours(nb, targets, o.Shuffles, o.Seed, o.Metric);
    }

    /// <summary>Scores precomputed neighbours.</summary>
    internal static KnnRegressionResult FromNeighbours(KnnNeighbours neighbours, double[] targets, int shuffles, long seed, KnnMetric metric)
    {
        ArgumentNullException.ThrowIfNull(neighbours);
        int n = neighbours.N;
        Guard.Targets(targets, n);
        if (n == 0) throw new ArgumentException("No rows to probe.", nameof(targets));
        var pred = new double[n];
        Predict(neighbours, targets, pred);
        double mae = Mae(pred, targets);
        double rho = Correlation.Spearman(pred, targets);
        double r = Correlation.Pearson(pred, targets);

        // Constant baseline: each fold's training median.
        var folds = neighbours.Folds;
        int foldCount = 0;
        foreach (int f in folds) foldCount = Math.Max(foldCount, f + 1);
        var (order, start) = KnnSearch.GroupByClass(folds, foldCount);
        double medianAbs = 0;
        var train = new List<double>(n);
        for (int f = 0; f < foldCount; f++)
        {
            int members = start[f + 1] - start[f];
            if (members == 0) continue;
            train.Clear();
            for (int i = 0; i < n; i++) if (folds[i] != f) train.Add(targets[i]);
            train.Sort();
            double med = train.Count == 0 ? double.NaN
                : train.Count % 2 == 1 ? train[train.Count / 2] : (train[train.Count / 2 - 1] + train[train.Count / 2]) / 2;
            for (int p = start[f]; p < start[f + 1]; p++) medianAbs += Math.Abs(targets[order[p]] - med);
        }

        var shMae = new double[shuffles];
        var shRho = new double[shuffles];
        if (shuffles > 0)
        {
            var rng = new Rng(seed, "analysis.knn.shuffle");
            var perm = (double[])targets.Clone();
            var p = new double[n];
            for (int s = 0; s < shuffles; s++)
            {
                rng.Shuffle(perm.AsSpan());
                Predict(neighbours, perm, p);
                shMae[s] = Mae(p, perm);
                shRho[s] = Correlation.Spearman(p, perm);
            }
        }
        var (mm, msd) = Num.MeanStd(shMae);
        var (rm, rsd) = Num.MeanStd(shRho);
        return new KnnRegressionResult
        {
            N = n, K = neighbours.K, Folds = foldCount, Metric = metric,
            Mae = mae, Spearman = rho, Pearson = r, MedianMae = medianAbs / n,
            ShuffledMaeMean = mm, ShuffledMaeStd = msd, ShuffledSpearmanMean = rm, ShuffledSpearmanStd = rsd,
            MaeZScore = Num.ZScore(mm, mae, msd), SpearmanZScore = Num.ZScore(rho, rm, rsd),
            PValue = Num.UpperPValue(rho, shRho), ShuffledSpearman = shRho, Predicted = pred,
        };
    }

    private static void Predict(KnnNeighbours nb, double[] targets, double[] pred)
    {
        int k = nb.K;
        var idx = nb.Index;
        for (int i = 0; i < nb.N; i++)
        {
            double s = 0;
            for (int m = 0; m < k; m++) s += targets[idx[i * k + m]];
            pred[i] = s / k;
        }
    }

    private static double Mae(double[] a, double[] b)
    {
        double s = 0;
        for (int i = 0; i < a.Length; i++) s += Math.Abs(a[i] - b[i]);
        return s / a.Length;
    }
}
