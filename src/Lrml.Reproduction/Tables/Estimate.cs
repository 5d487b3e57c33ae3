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
/// scoring throughput, at the maximum epochs ('at most') and at the epochs early stopping is expected to end each run
/// ('expected'); a busy machine, memory pressure or a different engine change it.
/// </summary>
public sealed class DurationEstimate
{
    /// <summary>What is estimated (e.g. "main table, full profile").</summary>
    public required string Experiment { get; init; }

    /// <summary>Wall-clock time of the runs still to do if every run trains its maximum epochs (an upper bound).</summary>
    public required TimeSpan Total { get; init; }

    /// <summary>The same with each run stopping where early stopping is expected to end it: the same run's epochs in the kit's
    /// record (<see cref="StoppingEpochs"/>), else the typical epochs of finished runs of its model (<see cref="TypicalEpochs"/>),
    /// else its maximum (then equal to <see cref="Total"/>).</summary>
    public TimeSpan Expected { get; init; }

    /// <summary>What <see cref="Expected"/> trains, as a phrase ("each run to its own stopping epoch in the kit's record of …",
    /// "each run to the typical epochs of …", "every run to its maximum epochs …").</summary>
    public string ExpectedSource { get; init; } = "";

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
            return $"Expected duration of the {Experiment}: at most {Format(Total)}, expected {Format(Expected)} for {Runs.ToString(ci)} run(s){reused}. " +
                   "This is an estimate: runs × epochs × training pairs at the training throughput just measured on this " +
                   "machine, plus evaluation scores at the measured scoring throughput; 'at most' trains every run to its maximum epochs, " +
                   $"'expected' trains {ExpectedSource}; a busier machine makes runs slower (measuring took {CalibrationSeconds.ToString("0.0", ci)} s).";
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
    /// <summary>Seconds of fixed cost per run (building the model, writing the run directory, checkpoints, per-user files),
    /// measured: two full-profile main tables on ML-1M + ML-100K (2 cores, 12-04) took 1.8 and 1.6 s per run beyond their
    /// runs' training and evaluation seconds (wall 21 min 27 s and 22 min 25 s for 72 runs).</summary>
    public const double OverheadSecondsPerRun = 2.0;

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
    /// scores (sampled candidates, and every item with full ranking) / scores per second + a fixed overhead, at its maximum
    /// epochs and at the epochs <paramref name="recorded"/> has for the same run (else <paramref name="typical"/>'s).
    /// </summary>
    public static DurationEstimate Estimate(string experiment, IReadOnlyList<PlannedRun> runs, ExperimentContext context,
        double calibrationSeconds = 0.25, TypicalEpochs? typical = null, StoppingEpochs? recorded = null)
    {
        ArgumentNullException.ThrowIfNull(runs);
        typical ??= TypicalEpochs.None;
        recorded ??= StoppingEpochs.None;
        int fromRecord = 0, toDo = 0;
        var clock = Stopwatch.StartNew();
        var table = new ResultTable($"Expected duration: {experiment}", "dataset", "model", "settings", "runs", "reused", "max epochs",
            "expected epochs", "training pairs", "triples/s", "scores/s", "at most min", "expected min");
        table.Format("triples/s", "N0").Format("scores/s", "N0").Format("training pairs", "N0").Format("at most min", "F1").Format("expected min", "F1")
            .Format("expected epochs", "F1");
        double total = 0, expectedTotal = 0;
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
            double seconds = 0, expected = 0, epochs = typical.For(spec);
            Throughput? speed = null;
            if (reused < list.Count)
            {
                speed = Measure(spec, split, calibrationSeconds);
                double epochSum = 0;
                foreach (var r in list.Where((_, k) => !finished[k]))
                {
                    // the recorded stopping epoch of this very run (same identity) when there is one, else the typical
                    // epochs of finished runs of its model, else its maximum
                    bool trains = !ModelRegistry.Get(r.Spec.Model).Deterministic;
                    int? known = trains ? recorded.For(StoppingEpochs.KeyOf(RunIdentity.Of(r.Spec, context))) : null;
                    double runEpochs = known ?? typical.For(r.Spec);
                    if (known is not null) fromRecord++;
                    if (trains) toDo++;
                    epochSum += runEpochs;
                    seconds += RunSeconds(r.Spec, split, speed);
                    expected += RunSeconds(r.Spec, SplitCounts.Of(split), speed, runEpochs);
                }
                epochs = epochSum / (list.Count - reused);
            }
            total += seconds;
            expectedTotal += expected;
            table.AddRow(("dataset", spec.Dataset), ("model", ModelRegistry.Get(spec.Model).Display),
                ("settings", string.Join(" ", spec.Settings.Select(kv => $"{kv.Key}={kv.Value}"))), ("runs", list.Count), ("reused", reused),
                ("max epochs", spec.Train.Epochs), ("expected epochs", epochs), ("training pairs", split.Train.Count),
                ("triples/s", speed?.TriplesPerSecond ?? double.NaN), ("scores/s", speed?.ScoresPerSecond ?? double.NaN),
                ("at most min", seconds / 60), ("expected min", expected / 60));
        }
        // what 'expected' counts, as one phrase: "'expected' trains …"
        var ci = CultureInfo.InvariantCulture;
        bool medians = typical.ByModel.Count > 0;
        string own = $"each run to its own stopping epoch in the kit's record of {recorded.Source}";
        string source = fromRecord == 0
            ? (medians ? $"each run to the typical epochs of {typical.Source}" : "every run to its maximum epochs (no finished runs of its model to learn stopping from)") +
              (recorded.ByKey.Count > 0 && toDo > 0 ? "; none of these runs is in the kit's record of stopping epochs (other data, settings or seeds)" : "")
            : fromRecord == toDo ? own
            : $"{own} ({fromRecord.ToString(ci)} of the {toDo.ToString(ci)} trained runs to do), the other {(toDo - fromRecord).ToString(ci)} " +
              (medians ? $"to the typical epochs of {typical.Source}" : "to their maximum epochs");
        table.Notes.Add("triples/s: training (user, positive, negative) triples per second, the trainer's negative sampling included; scores/s: " +
                        $"user-item scores per second, both measured just now on this machine. 'At most' trains every run to its maximum epochs; 'expected' trains {source}.");
        return new DurationEstimate
        {
            Experiment = experiment, Total = TimeSpan.FromSeconds(total), Expected = TimeSpan.FromSeconds(expectedTotal), ExpectedSource = source,
            Runs = runs.Count, Reused = reusedTotal, Table = table, CalibrationSeconds = clock.Elapsed.TotalSeconds,
        };
    }

    /// <summary>Expected seconds of one run at a measured speed (see <see cref="Estimate"/>).</summary>
    public static double RunSeconds(RunSpec spec, Protocols.Split split, Throughput speed)
    {
        ArgumentNullException.ThrowIfNull(split);
        return RunSeconds(spec, SplitCounts.Of(split), speed, spec.Train.Epochs);
    }

    /// <summary>The one duration formula of the kit (the estimate, Slurm time limits, <c>lrml bench</c>'s projection): epochs ×
    /// (pairs × negatives / triples/s + validation scores / scores/s / EvalEvery) + test scores / scores/s + a fixed overhead.
    /// <paramref name="epochs"/> may be fractional (a typical epoch count, see <see cref="TypicalEpochs"/>).</summary>
    public static double RunSeconds(RunSpec spec, SplitCounts split, Throughput speed, double epochs)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(split);
        ArgumentNullException.ThrowIfNull(speed);
        bool trains = double.IsFinite(speed.TriplesPerSecond);
        int candidates = spec.SampledNegativesFor(split.Protocol) + 1;
        double train = trains ? (double)split.TrainPairs * spec.Train.NegativesPerPositive / speed.TriplesPerSecond : 0;
        double validationScores = !trains || spec.Train.EvalEvery <= 0 ? 0
            : (double)split.ValidationUsers * (split.ValidationNegatives && spec.SampledValidation ? candidates : split.NumItems);
        double perEpoch = train + validationScores / speed.ScoresPerSecond / Math.Max(1, spec.Train.EvalEvery);
        double testScores = (split.TestNegatives ? (double)split.TestUsers * candidates : 0) +
                            (spec.FullRanking || !split.TestNegatives ? (double)split.TestUsers * split.NumItems : 0);
        return (trains ? epochs * perEpoch : 0) + testScores / speed.ScoresPerSecond + OverheadSecondsPerRun;
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
            int size = Math.Min(spec.Train.BatchSize, users.Length), k = spec.Train.NegativesPerPositive;
            var batch = new TrainingBatch(size, k) { Count = size };
            // batches as the trainer builds them: random training pairs, negatives from its sampler (uniform over the
            // user's non-training items, a rejection loop whose cost depends on the data); timed with the step, because
            // an epoch pays for both (uniform draws over all items measured BPR-MF and CML ≈ 40 % faster than their
            // epochs on ML-1M, where sampling is a sixth of a step)
            var sampler = new Protocols.NegativeSampler(split.Train);
            void Fill()
            {
                for (int b = 0; b < size; b++)
                {
                    int x = rng.NextInt(users.Length);
                    batch.Users[b] = users[x]; batch.Positives[b] = items[x];
                }
                sampler.Fill(batch.Users.AsSpan(0, size), batch.Negatives.AsSpan(0, size * k), k, rng);
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
                long t0 = Stopwatch.GetTimestamp();
                Fill();
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

/// <summary>What a run's duration depends on in its split (see <see cref="DurationEstimator.RunSeconds(RunSpec, SplitCounts, DurationEstimator.Throughput, double)"/>):
/// the protocol (sampled candidates per user), training pairs, items, users with validation and test items, and whether
/// validation and test have sampled negatives.</summary>
internal sealed record SplitCounts(string Protocol, long TrainPairs, int NumItems, int ValidationUsers, bool ValidationNegatives, int TestUsers, bool TestNegatives)
{
    /// <summary>The counts of a real split.</summary>
    public static SplitCounts Of(Protocols.Split split) => new(split.Protocol, split.Train.Count, split.NumItems, split.Validation.UsersWithItems(),
        split.ValidationNegatives is not null, split.Test.UsersWithItems(), split.TestNegatives is not null);
}

/// <summary>
/// The epochs runs typically train before early stopping ends them, per model: the median of the <c>epochs</c> recorded in the
/// result.json of finished runs of a reproduction profile (any dataset and seed: a rough guess for a run of the model that
/// is not itself recorded, see <see cref="StoppingEpochs"/>). A model without finished runs keeps its maximum epochs.
/// </summary>
public sealed class TypicalEpochs
{
    private readonly IReadOnlyDictionary<string, double> _median;

    /// <summary>Median epochs per model (registry name).</summary>
    public IReadOnlyDictionary<string, double> ByModel => _median;

    /// <summary>Where the medians come from, in words (e.g. "12 finished runs under …", or why there are none).</summary>
    public string Source { get; }

    /// <summary>Typical epochs from explicit medians (tests, notebooks).</summary>
    public TypicalEpochs(IReadOnlyDictionary<string, double> medianByModel, string source)
    {
        _median = medianByModel ?? throw new ArgumentNullException(nameof(medianByModel));
        Source = source;
    }

    /// <summary>No finished runs: every run at its maximum epochs.</summary>
    public static TypicalEpochs None { get; } = new(new Dictionary<string, double>(), "no finished runs (the maximum epochs)");

    /// <summary>The epochs a run of <paramref name="spec"/> is expected to train: the model's median, at most its maximum.</summary>
    public double For(RunSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        return _median.TryGetValue(ModelRegistry.Get(spec.Model).Name, out double e) ? Math.Min(e, spec.Train.Epochs) : spec.Train.Epochs;
    }

    /// <summary>Reads every <c>runs/&lt;dataset&gt;/&lt;run&gt;/result.json</c> under <paramref name="directory"/> (a main table's
    /// output folder, e.g. results/reproduce/main-table/full). A file that is not a run result names itself in a
    /// <see cref="Data.DataFormatException"/>.</summary>
    public static TypicalEpochs FromFinishedRuns(string directory)
    {
        ArgumentNullException.ThrowIfNull(directory);
        string runs = Path.Combine(directory, "runs");
        if (!Directory.Exists(runs)) return new(new Dictionary<string, double>(), $"no finished runs under {runs} (the maximum epochs)");
        var epochs = new Dictionary<string, List<double>>();
        int files = 0;
        foreach (var run in FinishedRun.ReadAll(runs))
        {
            if (!epochs.TryGetValue(run.Model, out var list)) epochs[run.Model] = list = [];
            list.Add(run.Epochs);
            files++;
        }
        if (files == 0) return new(new Dictionary<string, double>(), $"no finished runs under {runs} (the maximum epochs)");
        return new(epochs.ToDictionary(kv => kv.Key, kv => MathNet.Numerics.Statistics.Statistics.Median(kv.Value)),
            $"{files} finished run(s) under {runs} (median epochs per model: " +
            string.Join(", ", epochs.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => $"{kv.Key} {MathNet.Numerics.Statistics.Statistics.Median(kv.Value).ToString("0.#", CultureInfo.InvariantCulture)}")) + ")");
    }
}

/// <summary>A finished trained run's result.json, as the estimate reads it: its folder, model (registry name), epochs and
/// the parsed result.</summary>
internal sealed record FinishedRun(string Directory, string Model, int Epochs, System.Text.Json.Nodes.JsonObject Result)
{
    /// <summary>Every <c>&lt;dataset&gt;/&lt;run&gt;/result.json</c> under <paramref name="runsDirectory"/> in path order, models that
    /// do not train (popularity) left out. A file that is not a run result names itself in a <see cref="Data.DataFormatException"/>.</summary>
    public static IEnumerable<FinishedRun> ReadAll(string runsDirectory)
    {
        foreach (var file in System.IO.Directory.EnumerateFiles(runsDirectory, "result.json", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            System.Text.Json.Nodes.JsonNode? json;
            try { json = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(file)); }
            catch (System.Text.Json.JsonException e) { throw new Data.DataFormatException(file, (e.LineNumber ?? -1) + 1, $"not valid JSON ({e.Message})", e); }
            if (json is not System.Text.Json.Nodes.JsonObject o || o["model"] is not System.Text.Json.Nodes.JsonValue mv || !mv.TryGetValue(out string? model)
                || o["epochs"] is not System.Text.Json.Nodes.JsonValue ev || !ev.TryGetValue(out int epochs) || epochs < 0)
                throw new Data.DataFormatException(file, 0, "a run result needs \"model\" and a non-negative integer \"epochs\".");
            var entry = ModelRegistry.Get(model);
            if (!entry.Deterministic) yield return new FinishedRun(Path.GetDirectoryName(file)!, entry.Name, epochs, o);
        }
    }
}
