using System.Diagnostics;
using System.Globalization;
using Lrml.Models;
using Lrml.Training;
using Lrml.Util;

using Lrml.Experiments;

namespace Lrml.Reproduction;

/// <summary>A training run a reproduction will do, or reuse when <see cref="Directory"/> already holds it finished.</summary>
/// <param name="Spec">What the run trains.</param>
/// <param name="Directory">Where it is (or will be) stored.</param>
public sealed record PlannedRun(RunSpec Spec, string Directory)
{
    /// <summary>A line said before the run starts when it is trained here (e.g. "Trial 3/8: dim=64;…"); null says nothing.</summary>
    public string? Label { get; init; }

    /// <summary>Whether <see cref="Directory"/> holds a finished run of exactly this spec on the data of
    /// <paramref name="context"/> (same <see cref="RunIdentity"/>: it would be reused).</summary>
    public bool IsFinishedIn(ExperimentContext context) =>
        File.Exists(Path.Combine(Directory, "result.json")) && RunStore.StoredKey(Directory) == RunIdentity.Of(Spec, context).Key;
}

/// <summary>
/// The expected duration of a reproduction, said before it starts. It is an estimate: runs × epochs × training pairs
/// divided by a training throughput measured here a moment ago, plus the evaluation scores divided by a measured
/// scoring throughput. Epochs are the maximum (early stopping usually ends runs sooner); a busy machine, memory
/// pressure or a different engine change it.
/// </summary>
public sealed class DurationEstimate
{
    /// <summary>What is estimated (e.g. "main table, full profile").</summary>
    public required string Experiment { get; init; }

    /// <summary>Expected wall-clock time of the runs still to do.</summary>
    public required TimeSpan Total { get; init; }

    /// <summary>Runs planned in total.</summary>
    public required int Runs { get; init; }

    /// <summary>Runs already finished on disk (reused, not counted in <see cref="Total"/>).</summary>
    public required int Reused { get; init; }

    /// <summary>One row per configuration: runs, epochs, pairs, measured throughputs and expected minutes.</summary>
    public required ResultTable Table { get; init; }

    /// <summary>Seconds spent measuring the throughputs.</summary>
    public required double CalibrationSeconds { get; init; }

    /// <summary>One sentence: the expected duration and what it is based on.</summary>
    public string Summary
    {
        get
        {
            var ci = CultureInfo.InvariantCulture;
            if (Runs > 0 && Reused == Runs && Total.TotalSeconds < 1)
                return $"Nothing to train for the {Experiment}: all {Runs.ToString(ci)} run(s) are already finished on disk and are reused.";
            string reused = Reused > 0 ? $" ({Reused} of them already finished on disk and reused)" : "";
            return $"Expected duration of the {Experiment}: about {Format(Total)} for {Runs.ToString(ci)} run(s){reused}. " +
                   "This is an estimate: runs × maximum epochs × training pairs at the training throughput just measured on this " +
                   "machine, plus evaluation scores at the measured scoring throughput; early stopping usually ends runs sooner, " +
                   $"a busier machine makes them slower (measuring took {CalibrationSeconds.ToString("0.0", ci)} s).";
        }
    }

    /// <summary>A duration in words: "40 s", "12 min", "2 h 10 min".</summary>
    public static string Format(TimeSpan t)
    {
        var ci = CultureInfo.InvariantCulture;
        if (t.TotalSeconds < 90) return $"{Math.Max(1, Math.Round(t.TotalSeconds)).ToString(ci)} s";
        if (t.TotalMinutes < 90) return $"{Math.Round(t.TotalMinutes).ToString(ci)} min";
        return $"{Math.Floor(t.TotalHours).ToString(ci)} h {t.Minutes.ToString(ci)} min";
    }

    /// <inheritdoc/>
    public override string ToString() => Summary;
}

/// <summary>Measures training and scoring throughput per configuration and turns planned runs into a <see cref="DurationEstimate"/>.</summary>
internal static class DurationEstimator
{
    /// <summary>Seconds of fixed cost per run (building the model, writing the run directory, per-user files).</summary>
    public const double OverheadSecondsPerRun = 1.0;

    /// <summary>Warm-up calls before timing (at least this many, and at least <see cref="WarmupSeconds"/>).</summary>
    public const int WarmupCalls = 60;

    /// <summary>Warm-up seconds before timing training steps (half of it before timing scoring).</summary>
    public const double WarmupSeconds = 0.6;

    /// <summary>A configuration's measured speed: training triples (user, positive, negative) and scores per second;
    /// triples per second is NaN for a model that does not train.</summary>
    public sealed record Throughput(double TriplesPerSecond, double ScoresPerSecond);

    /// <summary>
    /// Estimates how long <paramref name="runs"/> take: runs already finished on disk count zero; for the others, each
    /// distinct configuration (dataset, protocol, model, settings) is built once and timed for a fraction of a second —
    /// a few training batches of the run's batch size after a warm-up (<see cref="WarmupCalls"/> calls and
    /// <see cref="WarmupSeconds"/>, so that managed engines run JIT-optimised code; the median step time counts, so other
    /// processes preempting a step now and then do not inflate it), and full-item scoring of a few users —
    /// then a run costs epochs × (training pairs / triples per second + validation scores / scores per second) + test
    /// scores (sampled candidates, and every item with full ranking) / scores per second + a fixed overhead.
    /// </summary>
    public static DurationEstimate Estimate(string experiment, IReadOnlyList<PlannedRun> runs, ExperimentContext context,
        double calibrationSeconds = 0.25)
    {
        ArgumentNullException.ThrowIfNull(runs);
        var clock = Stopwatch.StartNew();
        var table = new ResultTable($"Expected duration: {experiment}", "dataset", "model", "settings", "runs", "reused", "max epochs",
            "training pairs", "triples/s", "scores/s", "expected min");
        table.Format("triples/s", "N0").Format("scores/s", "N0").Format("training pairs", "N0").Format("expected min", "F1");
        double total = 0;
        int reusedTotal = 0;
        foreach (var group in runs.GroupBy(r => GroupKey(r.Spec)))
        {
            var list = group.ToList();
            var spec = list[0].Spec;
            var finished = list.Select(r => r.IsFinishedIn(context)).ToList();
            int reused = finished.Count(f => f);
            reusedTotal += reused;
            string protocol = (spec.Protocol ?? Experiment.DefaultProtocol(spec.Dataset, context)).ToLowerInvariant();
            var split = Experiment.GetSplit(spec.Dataset, protocol, spec.SplitSeed, spec.SampledNegativesFor(protocol), context);
            double seconds = 0;
            Throughput? speed = null;
            if (reused < list.Count)
            {
                speed = Measure(spec, split, calibrationSeconds);
                foreach (var r in list.Where((_, k) => !finished[k])) seconds += RunSeconds(r.Spec, split, speed);
            }
            total += seconds;
            table.AddRow(("dataset", spec.Dataset), ("model", ModelRegistry.Get(spec.Model).Display),
                ("settings", string.Join(" ", spec.Settings.Select(kv => $"{kv.Key}={kv.Value}"))), ("runs", list.Count), ("reused", reused),
                ("max epochs", spec.Train.Epochs), ("training pairs", split.Train.Count),
                ("triples/s", speed?.TriplesPerSecond ?? double.NaN), ("scores/s", speed?.ScoresPerSecond ?? double.NaN),
                ("expected min", seconds / 60));
        }
        table.Notes.Add("triples/s: training (user, positive, negative) triples per second; scores/s: user-item scores per second, both measured " +
                        "just now on this machine. Expected minutes use the maximum epochs: early stopping usually ends runs sooner.");
        return new DurationEstimate
        {
            Experiment = experiment, Total = TimeSpan.FromSeconds(total), Runs = runs.Count, Reused = reusedTotal, Table = table,
            CalibrationSeconds = clock.Elapsed.TotalSeconds,
        };
    }

    /// <summary>Expected seconds of one run at a measured speed (see <see cref="Estimate"/>).</summary>
    public static double RunSeconds(RunSpec spec, Protocols.Split split, Throughput speed)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(split);
        ArgumentNullException.ThrowIfNull(speed);
        bool trains = double.IsFinite(speed.TriplesPerSecond);
        int candidates = spec.SampledNegativesFor(split.Protocol) + 1;
        double train = trains ? (double)split.Train.Count * spec.Train.NegativesPerPositive / speed.TriplesPerSecond : 0;
        double validationScores = !trains || spec.Train.EvalEvery <= 0 ? 0
            : split.Validation.UsersWithItems() * (split.ValidationNegatives is not null && spec.SampledValidation ? candidates : split.NumItems);
        double perEpoch = train + validationScores / speed.ScoresPerSecond / Math.Max(1, spec.Train.EvalEvery);
        int testUsers = split.Test.UsersWithItems();
        double testScores = (split.TestNegatives is not null ? (double)testUsers * candidates : 0) +
                            (spec.FullRanking || split.TestNegatives is null ? (double)testUsers * split.NumItems : 0);
        return (trains ? spec.Train.Epochs * perEpoch : 0) + testScores / speed.ScoresPerSecond + OverheadSecondsPerRun;
    }

    /// <summary>
    /// Times one configuration: a few training steps of the run's batch size (after a warm-up) and full-item
    /// scoring of a few users, each for about <paramref name="seconds"/>. The model is built as the run builds it
    /// (same settings, engine and threads) and discarded.
    /// </summary>
    public static Throughput Measure(RunSpec spec, Protocols.Split split, double seconds = 0.25)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(split);
        ComputeThreads.Set(spec.Train.Threads);
        var built = ModelRegistry.Build(spec.Model, new ModelBuildContext
        {
            NumUsers = split.NumUsers, NumItems = split.NumItems, Train = split.Train, Seed = 1, Threads = spec.Train.Threads,
            Settings = spec.Settings, Engine = spec.Engine,
        });
        using var model = built.Model;
        var rng = new Rng(1, "estimate");
        double triples = double.NaN; // models without training (popularity)
        if (model is ITrainableRecommender trainable && split.Train.Count > 0)
        {
            var (users, items) = split.Train.ToPairs();
            int size = Math.Min(spec.Train.BatchSize, users.Length);
            var batch = new TrainingBatch(size, spec.Train.NegativesPerPositive) { Count = size };
            void Fill()
            {
                for (int b = 0; b < size; b++)
                {
                    int k = rng.NextInt(users.Length);
                    batch.Users[b] = users[k]; batch.Positives[b] = items[k];
                    for (int j = 0; j < batch.NegativesPerPositive; j++) batch.Negatives[b * batch.NegativesPerPositive + j] = rng.NextInt(split.NumItems);
                }
            }
            // warm-up long enough for the JIT to promote a managed engine's hot methods to optimised code (tiered
            // compilation counts 30 calls after a short delay); without it the fused engine measures ~10× too slow
            var warm = Stopwatch.StartNew();
            for (int w = 0; (w < WarmupCalls || warm.Elapsed.TotalSeconds < WarmupSeconds) && w < 5_000; w++) { Fill(); trainable.TrainStep(batch); }
            // the median step time: robust to the other processes of a shared machine preempting a step now and then
            var times = new List<double>();
            var total = Stopwatch.StartNew();
            while (times.Count < 5 || (total.Elapsed.TotalSeconds < seconds && times.Count < 200))
            {
                Fill();
                long t0 = Stopwatch.GetTimestamp();
                trainable.TrainStep(batch);
                times.Add(Stopwatch.GetElapsedTime(t0).TotalSeconds);
            }
            triples = size * batch.NegativesPerPositive / Math.Max(Median(times), 1e-9);
        }
        // a handful of users per call (a few thousand to tens of thousands of scores): long enough to time, short enough
        // for slow scorers (LRML's TorchSharp engine scores a few hundred thousand pairs per second)
        int chunk = Math.Clamp(16_384 / Math.Max(1, split.NumItems), 1, Math.Max(1, Math.Min(8, split.NumUsers)));
        var scoreUsers = new int[chunk];
        var scores = new float[chunk * split.NumItems];
        for (int u = 0; u < chunk; u++) scoreUsers[u] = rng.NextInt(split.NumUsers);
        var warmScores = Stopwatch.StartNew();
        for (int w = 0; (w < WarmupCalls || warmScores.Elapsed.TotalSeconds < WarmupSeconds / 2) && w < 5_000; w++) model.ScoreAllItems(scoreUsers, scores);
        var calls = new List<double>();
        var clock = Stopwatch.StartNew();
        while (calls.Count < 3 || (clock.Elapsed.TotalSeconds < seconds / 2 && calls.Count < 200))
        {
            long t0 = Stopwatch.GetTimestamp();
            model.ScoreAllItems(scoreUsers, scores);
            calls.Add(Stopwatch.GetElapsedTime(t0).TotalSeconds);
        }
        double scored = (double)chunk * split.NumItems / Math.Max(Median(calls), 1e-9);
        return new Throughput(triples, scored);
    }

    private static double Median(List<double> xs)
    {
        xs.Sort();
        int n = xs.Count;
        return n % 2 == 1 ? xs[n / 2] : (xs[n / 2 - 1] + xs[n / 2]) / 2;
    }

    internal static string GroupKey(RunSpec spec) =>
        string.Join("|", spec.Dataset, spec.Protocol ?? "", spec.Model, spec.Engine ?? "", spec.Train.BatchSize, spec.Train.NegativesPerPositive,
            string.Join(",", spec.Settings.OrderBy(kv => ConfigBinder.Normalise(kv.Key), StringComparer.Ordinal)
                .Select(kv => ConfigBinder.Normalise(kv.Key) + "=" + kv.Value.Trim())));
}
