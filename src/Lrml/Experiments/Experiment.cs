using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Lrml.Data;
using Lrml.Evaluation;
using Lrml.Models;
using Lrml.Protocols;
using Lrml.Training;
using Lrml.Util;

namespace Lrml.Experiments;

/// <summary>Where an experiment reads data and writes results, and who hears about progress.</summary>
public sealed class ExperimentContext
{
    /// <summary>Data root (see <see cref="DataDirectory.Resolve(string?, bool)"/>).</summary>
    public required DataDirectory Data { get; init; }

    /// <summary>Root of results: run directories, tables, plots and the split cache.</summary>
    public required string ResultsRoot { get; init; }

    /// <summary>Progress and messages.</summary>
    public IRunObserver Observer { get; init; } = SilentObserver.Instance;

    /// <summary>Allow replacing an existing run directory (never done silently): the new run is written beside it and
    /// replaces it only once it has finished, so a failed or killed rerun leaves the previous run as it was.</summary>
    public bool Overwrite { get; init; }

    /// <summary>Write the best model state (best.ckpt) into each run directory.</summary>
    public bool SaveCheckpoints { get; init; } = true;

    /// <summary>Keep each finished run's resumable checkpoint (checkpoint.ckpt, about twice the model's size: parameters and
    /// optimiser state). By default it is deleted once the run has finished — only an interrupted run needs it — and the
    /// model evaluated on test stays in best.ckpt. Not part of a run's identity: it changes no number.</summary>
    public bool KeepCheckpoints { get; init; }

    /// <summary>Folder of the frozen split cache.</summary>
    public string SplitCache => Path.Combine(ResultsRoot, "splits");

    /// <summary>A context with the default data directory and results under &lt;repo&gt;/results (or ./results).</summary>
    public static ExperimentContext Default(string? dataDir = null, string? resultsRoot = null, IRunObserver? observer = null) => new()
    {
        Data = DataDirectory.Resolve(dataDir),
        ResultsRoot = resultsRoot ?? Path.Combine(Provenance.FindRepoRoot(Environment.CurrentDirectory) ?? Environment.CurrentDirectory, "results"),
        Observer = observer ?? SilentObserver.Instance,
    };
}

/// <summary>
/// Runs experiments: loads a dataset, builds (or loads the frozen) split, trains a model with the shared
/// <see cref="Trainer"/>, evaluates on validation for early stopping and once on test, and writes a run
/// directory (result.json, config.json, epochs.jsonl, per-user metrics, best checkpoint). The CLI,
/// sweeps, reproductions and notebooks all call these functions, so there is one experiment path.
/// </summary>
public static class Experiment
{
    private static readonly Dictionary<string, (Interactions Data, string Stamp)> DataCache = new();
    private static readonly Dictionary<string, Split> SplitMemo = new();
    private static readonly object Gate = new();

    /// <summary>Loads a dataset, memoised per process while its files are unchanged: the memo is keyed by the dataset's
    /// folder and the length and modification time of every file in it, so a file changed on disk is read again.</summary>
    public static Interactions LoadDataset(string name, ExperimentContext context)
    {
        var info = Datasets.Get(name);
        string key = info.Name + "|" + context.Data.Root;
        lock (Gate)
        {
            string? folder = Datasets.Locate(info.Name, context.Data);
            string stamp = info.Own is { } own ? own.ToJson().ToJsonString() + "\n" + FileStamp.Of(own.File)   // one file, not its folder
                : folder + "\n" + (folder is null || info.Name == "synthetic" ? "" : FileStamp.OfFolder(folder));
            if (DataCache.TryGetValue(key, out var memo))
            {
                if (memo.Stamp == stamp) return memo.Data;
                context.Observer.Message($"Reading {info.Name} again: its files changed on disk since it was loaded");
            }
            var sw = Stopwatch.StartNew();
            var d = Datasets.Load(name, context.Data);
            context.Observer.Message($"Loaded {d} in {sw.Elapsed.TotalSeconds:F1}s");
            DataCache[key] = (d, stamp);
            return d;
        }
    }

    /// <summary>Data roots whose missing NCF split was already reported in this process (once is loud enough).</summary>
    private static readonly HashSet<string> WarnedNcfMissing = new(StringComparer.Ordinal);

    /// <summary>The default protocol of a dataset: ncf for ml-1m when its published files are present,
    /// leave-last-out when timestamps exist (or the file order is chronological), else random leave-one-out.</summary>
    public static string DefaultProtocol(string dataset, ExperimentContext context)
    {
        var info = Datasets.Get(dataset);
        if (info.Name != "ml-1m") return LeaveLastOut.ProtocolName;
        if (NcfPublic.Locate(context.Data) is not null) return NcfPublic.ProtocolName;
        lock (WarnedNcfMissing)
            if (WarnedNcfMissing.Add(context.Data.Root)) context.Observer.Warning(NcfPublic.MissingNote(context.Data));
        return RandomLeaveOneOut.ProtocolName;
    }

    private static string? NcfDirectory(ExperimentContext context) => NcfPublic.Locate(context.Data);

    /// <summary>
    /// What a split is built from: the dataset, the protocol, the split seed, the sampled negatives and the SHA-256 of every
    /// file read — the dataset's files (from its provenance, by file name) and, for the ncf protocol, the published NCF
    /// files (<c>ncf/ml-1m.test.rating</c>, <c>ncf/ml-1m.test.negative</c>, and <c>ncf/ml-1m.train.rating</c> when present),
    /// and for a dataset of one's own its format (separator, header, columns, rating threshold, k-core: <see cref="FileDataset.IdentityJson"/>).
    /// Part of every <see cref="RunIdentity"/>; its hash names the frozen split's cache folder.
    /// </summary>
    public static JsonObject SplitIdentity(string dataset, string? protocol, long splitSeed, int sampledNegatives, ExperimentContext context)
    {
        var data = LoadDataset(dataset, context);
        protocol = (protocol ?? DefaultProtocol(dataset, context)).ToLowerInvariant();
        var files = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var (k, sha) in data.Provenance)
        {
            if (k != ProvenanceKeys.Sha256 && !k.EndsWith("." + ProvenanceKeys.Sha256, StringComparison.Ordinal)) continue;
            string prefix = k[..^ProvenanceKeys.Sha256.Length];
            string label = data.Provenance.TryGetValue(prefix + ProvenanceKeys.File, out var file) && Path.IsPathRooted(file)
                ? Path.GetFileName(file) : prefix.Length == 0 ? data.Name : prefix.TrimEnd('.');
            files[label] = sha;
        }
        if (protocol == NcfPublic.ProtocolName && data.Name == "ml-1m" && NcfDirectory(context) is string ncf)
            foreach (var name in new[] { NcfPublic.TestRatingFile, NcfPublic.TestNegativeFile, NcfPublic.TrainRatingFile })
                if (File.Exists(Path.Combine(ncf, name))) files["ncf/" + name] = FileStamp.Sha256(Path.Combine(ncf, name));
        var filesJson = new JsonObject();
        foreach (var (k, v) in files) filesJson[k] = v;
        var identity = new JsonObject
        {
            ["dataset"] = data.Name, ["protocol"] = protocol, ["split_seed"] = splitSeed, ["sampled_negatives"] = sampledNegatives,
            ["files"] = filesJson,
        };
        if (Datasets.Get(dataset).Own is { } own) identity["format"] = own.IdentityJson();   // absent for built-in datasets: their identities stay
        return identity;
    }

    /// <summary>
    /// The split of a dataset under a protocol, built once per <see cref="SplitIdentity"/> (data checksums, protocol, seed,
    /// negatives) and <see cref="RunIdentity.NumericsVersion"/>, and frozen on disk with its sampled candidates, so every
    /// model and every run seed sees the same one; changed data files give another cache folder, never the old split.
    /// </summary>
    public static Split GetSplit(string dataset, string? protocol, long splitSeed, int sampledNegatives, ExperimentContext context)
    {
        var data = LoadDataset(dataset, context);
        protocol ??= DefaultProtocol(dataset, context);
        protocol = protocol.ToLowerInvariant();
        var identity = SplitIdentity(dataset, protocol, splitSeed, sampledNegatives, context);
        identity["numerics_version"] = RunIdentity.NumericsVersion;
        string key = $"{data.Name}-{protocol}-seed{splitSeed}-neg{sampledNegatives}-{RunIdentity.Hash(identity, 12)}";
        lock (Gate)
        {
            string dir = Path.Combine(context.SplitCache, key);
            if (SplitMemo.TryGetValue(dir, out var memo)) return memo;
            Split split;
            // one process builds an entry while the others wait, then load it (an entry appears whole: SplitStore.Publish)
            using var building = File.Exists(Path.Combine(dir, SplitStore.BinaryFileName)) ? null
                : FolderLock.Wait(dir, "The split cache entry", TimeSpan.FromMinutes(30), context.Observer.Message);
            if (File.Exists(Path.Combine(dir, SplitStore.BinaryFileName)))
            {
                split = SplitStore.Load(dir);
                context.Observer.Message($"Loaded frozen split {key}");
            }
            else
            {
                var sw = Stopwatch.StartNew();
                string? ncf = protocol == NcfPublic.ProtocolName
                    ? NcfDirectory(context) ?? throw new DatasetNotFoundException("ml-1m (NCF files)",
                        [Path.Combine(context.Data.Root, "ml-1m", "ncf", NcfPublic.TestRatingFile)], Datasets.FetchCommand(Datasets.NcfFetchTarget, context.Data))
                    : null;
                if (ncf is not null && data.Name != "ml-1m") throw new ArgumentException("The ncf protocol applies to ml-1m only.");
                split = SplitFactory.Build(protocol, data, splitSeed, sampledNegatives, ncf, fileOrderWhenNoTimestamps: !data.HasTimestamps);
                if (ncf is not null) CheckNcfChecksums(split, identity, ncf);
                SplitStore.Publish(split, dir);
                context.Observer.Message($"Built split {key} in {sw.Elapsed.TotalSeconds:F1}s: {split}");
            }
            SplitMemo[dir] = split;
            return split;
        }
    }

    /// <summary>The NCF files must still be the ones checksummed for the cache key (they could change while being read).</summary>
    private static void CheckNcfChecksums(Split split, JsonObject identity, string ncf)
    {
        foreach (var (name, note) in new[] { (NcfPublic.TestRatingFile, NcfPublic.TestRatingChecksumNote), (NcfPublic.TestNegativeFile, NcfPublic.TestNegativeChecksumNote) })
            if (split.Notes.GetValueOrDefault(note) != (string?)identity["files"]?["ncf/" + name])
                throw new IOException($"{Path.Combine(ncf, name)} changed while the split was being built; run again.");
    }

    /// <summary>Short content fingerprint of a dataset (sizes and a hash of the provenance checksums).</summary>
    public static string Fingerprint(Interactions data)
    {
        var sb = new StringBuilder($"{data.Name}|{data.Count}|{data.NumUsers}|{data.NumItems}");
        foreach (var kv in data.Provenance.OrderBy(k => k.Key, StringComparer.Ordinal)) sb.Append('|').Append(kv.Key).Append('=').Append(kv.Value);
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(sb.ToString())))[..10];
    }

    /// <summary>The default run directory of a spec: results/runs/&lt;dataset&gt;/&lt;protocol&gt;/&lt;model&gt;-seed&lt;seed&gt;-&lt;utc time&gt;.</summary>
    public static string DefaultRunDirectory(RunSpec spec, string protocol, ExperimentContext context) =>
        Path.Combine(context.ResultsRoot, "runs", spec.Dataset, protocol,
            $"{spec.Model}-seed{spec.Train.Seed}-{DateTime.UtcNow:yyyyMMdd-HHmmss-fff}");

    /// <summary>Name of the resumable training checkpoint inside a run directory.</summary>
    public const string CheckpointFile = "checkpoint.ckpt";

    /// <summary>Whether <paramref name="runDirectory"/> holds an interrupted run of exactly <paramref name="identity"/>: a
    /// readable checkpoint with the identity's key and no result.json. Sweeps and stored runs then resume it instead of
    /// starting again (an unreadable or foreign checkpoint means a fresh start).</summary>
    public static bool CanResume(string runDirectory, RunIdentity identity)
    {
        string path = Path.Combine(runDirectory, CheckpointFile);
        if (!File.Exists(path) || File.Exists(Path.Combine(runDirectory, "result.json"))) return false;
        try { return TrainerCheckpoint.FromBytes(File.ReadAllBytes(path), path).RunKey == identity.Key; }
        catch (InvalidDataException) { return false; }
        catch (IOException) { return false; }
    }

    /// <summary>
    /// Trains and evaluates one run; writes its directory when <paramref name="runDirectory"/> is not null.
    /// With <paramref name="resume"/>, continues the run whose checkpoint.ckpt is in that directory (it must
    /// have the same <see cref="RunIdentity"/>: same data and settings, else an error names what differs); the finished
    /// run equals an uninterrupted one.
    /// </summary>
    /// <remarks>The run directory is locked for the whole run (another process gets "… is in use by pid N …"); its settings
    /// are checked before anything is created; with <see cref="ExperimentContext.Overwrite"/> a finished run there is replaced
    /// only once the new run has finished (see <see cref="RunDirectory"/>).</remarks>
    public static RunOutcome Run(RunSpec spec, ExperimentContext context, string? runDirectory = null, bool resume = false)
    {
        CheckSpec(spec);
        if (resume && runDirectory is null) throw new ArgumentException("Resuming needs the run directory of the interrupted run.");
        using var workspace = runDirectory is null ? null : new RunDirectory(runDirectory);
        try
        {
            var outcome = RunIn(spec, context, workspace, resume);
            workspace?.Commit();
            return outcome with { Directory = runDirectory };
        }
        catch (Exception ex) when (workspace is { Staged: true } && ex is TrainingDivergedException or IOException)
        {
            throw workspace.Explain(ex);
        }
    }

    /// <summary>The checks of a spec that need no data, made before any folder is created.</summary>
    private static void CheckSpec(RunSpec spec)
    {
        spec.Train.Validate();
        ModelRegistry.Get(spec.Model);
        if (spec.CheckpointEverySteps < 0) throw new ArgumentException($"CheckpointEverySteps must be ≥ 0 (got {spec.CheckpointEverySteps}).");
        if (spec.SampledNegatives is < 1) throw new ArgumentException($"SampledNegatives must be ≥ 1 (got {spec.SampledNegatives}).");
        if (spec.Ks.Length == 0 || spec.Ks.Any(k => k < 1)) throw new ArgumentException($"Every metric cut-off k must be ≥ 1 (got {string.Join(", ", spec.Ks)}).");
    }

    private static RunOutcome RunIn(RunSpec spec, ExperimentContext context, RunDirectory? workspace, bool resume)
    {
        var started = DateTime.UtcNow;
        // data → split (frozen on disk: every model and run seed sees the same one)
        string protocolName = (spec.Protocol ?? DefaultProtocol(spec.Dataset, context)).ToLowerInvariant();
        int sampledNegatives = spec.SampledNegativesFor(protocolName);
        var split = GetSplit(spec.Dataset, protocolName, spec.SplitSeed, sampledNegatives, context);
        var data = LoadDataset(spec.Dataset, context);
        var identity = RunIdentity.Of(spec, context);
        // the model first: bad settings fail before the run directory is touched
        var built = BuildModel(spec, split);
        using var model = built.Model;

        // the run directory: locked, then either the checkpoint to resume or a fresh folder
        workspace?.Lock(context.Observer);
        string? runDirectory = workspace?.Final;
        TrainerCheckpoint? checkpoint = null;
        if (resume && runDirectory is not null) checkpoint = ReadCheckpoint(runDirectory, identity, context.Observer);
        else if (workspace is not null) runDirectory = workspace.Prepare(context.Overwrite, context.Observer);
        var config = RunConfig.Json(spec, protocolName, built.Config, sampledNegatives, context.KeepCheckpoints);
        context.Observer.RunStarted(spec, $"{ModelRegistry.Get(spec.Model).Display} on {data.Name} ({split.Protocol}), seed {spec.Train.Seed}, " +
                                          $"{split.NumUsers:N0} users × {split.NumItems:N0} items, {split.Train.Count:N0} training pairs");
        if (runDirectory is not null) AtomicFile.WriteAllText(Path.Combine(runDirectory, "config.json"), config.ToJsonString(ConfigBinder.Json) + "\n");

        // train (validation picks the best epoch and stops early), then evaluate once on test
        var evalOptions = new EvaluationOptions { Ks = spec.Ks, Threads = spec.Train.Threads };
        var validationOptions = evalOptions with
        {
            Mode = spec.SampledValidation && split.ValidationNegatives is not null ? CandidateMode.Sampled : CandidateMode.Full,
        };
        ComputeThreads.Set(spec.Train.Threads);
        var training = model is ITrainableRecommender trainable
            ? Train(trainable, spec, split, validationOptions, checkpoint, identity, runDirectory, context)
            : null;
        var test = EvaluateTest(model, split, spec.FullRanking, evalOptions);
        var popularity = PopularityBaselineOf(training, split, spec.Train.ValidationMetric, validationOptions);

        // the result: result.json and the per-user metrics
        var result = ResultOf(spec, data, split, config, training, test, popularity, started);
        if (spec.RetrainOnValidation && training is not null) result.RetrainedTestMetrics = Retrain(spec, split, training.BestEpoch, evalOptions, context);
        if (result.PopularityWarning is string warning) context.Observer.Warning(warning);
        if (runDirectory is not null)
        {
            WritePerUser(Path.Combine(runDirectory, "per_user_test.csv"), split, test.Sampled, test.Full);
            result.Save(Path.Combine(runDirectory, "result.json"));
            // finished: only an interrupted run needs its resumable checkpoint (resuming a finished run is refused anyway)
            if (!context.KeepCheckpoints) File.Delete(Path.Combine(runDirectory, CheckpointFile));
        }
        context.Observer.RunFinished(result);
        return new RunOutcome(result, test.Sampled, test.Full, training, runDirectory);
    }

    private static BuiltModel BuildModel(RunSpec spec, Split split) => ModelRegistry.Build(spec.Model, new ModelBuildContext
    {
        NumUsers = split.NumUsers, NumItems = split.NumItems, Train = split.Train, Seed = spec.Train.Seed,
        Threads = spec.Train.Threads, Settings = spec.Settings, Engine = spec.Engine, Device = spec.Device,
        BatchSize = spec.Train.BatchSize, NegativesPerPositive = spec.Train.NegativesPerPositive,
    });

    /// <summary>The checkpoint of the interrupted run in <paramref name="runDirectory"/>; it must belong to exactly
    /// <paramref name="identity"/> (else the error names what differs).</summary>
    private static TrainerCheckpoint ReadCheckpoint(string runDirectory, RunIdentity identity, IRunObserver observer)
    {
        string path = Path.Combine(runDirectory, CheckpointFile);
        if (!File.Exists(path))
            throw new IOException(File.Exists(Path.Combine(runDirectory, "result.json"))
                ? $"Nothing to resume in '{runDirectory}': the run there has finished (result.json), and its resumable checkpoint was dropped then (--keep-checkpoints keeps it)."
                : RunDirectory.StoppedBeforeFirstCheckpoint(runDirectory)
                ? $"No checkpoint to resume in '{runDirectory}': the run stopped before its first checkpoint. Start it again without --resume (the interrupted run there is replaced)."
                : $"No checkpoint to resume in '{runDirectory}' ({CheckpointFile} is missing). Start the run without --resume.");
        var checkpoint = TrainerCheckpoint.FromBytes(File.ReadAllBytes(path), path);
        if (checkpoint.RunKey != identity.Key)
            throw new ArgumentException($"The checkpoint in '{runDirectory}' belongs to a different configuration: " +
                                        $"{RunIdentity.Describe(RunIdentity.Differences(checkpoint.Identity, identity.Parts))}. " +
                                        "Resume with exactly the options and data of the interrupted run.");
        observer.Message($"Resuming from epoch {checkpoint.Epoch}, step {checkpoint.Step} ({path})");
        return checkpoint;
    }

    /// <summary>
    /// Trains with the shared <see cref="Trainer"/>, validating on <paramref name="split"/>'s validation part when it has
    /// one. The epoch log, best state and resumable checkpoints (stamped with the run's identity) go to the run directory,
    /// progress to the observer; LRML's memory usage is measured after every epoch.
    /// </summary>
    private static TrainingOutcome Train(ITrainableRecommender model, RunSpec spec, Split split, EvaluationOptions validationOptions,
        TrainerCheckpoint? checkpoint, RunIdentity identity, string? runDirectory, ExperimentContext context)
    {
        var trainer = new Trainer(spec.Train) { Progress = new DirectProgress(context.Observer) };
        if (model is IRelationalModel relational)
        {
            // LRML's memory usage after every epoch, on a fixed sample of training pairs (no trainer stream is touched)
            var probe = new MemoryUsageProbe(split.Train, spec.Train.Seed);
            trainer.EpochDiagnostics = _ => probe.Measure(relational).ToDictionary();
        }
        if (spec.OracleEpoch)
        {
            // the test metrics of every epoch, kept with the epoch's diagnostics (so a resumed run has them too); they never
            // reach the trainer's choice of the best epoch, which reads validation only
            var measure = trainer.EpochDiagnostics;
            var testOptions = validationOptions with { Mode = split.TestNegatives is not null ? CandidateMode.Sampled : CandidateMode.Full };
            trainer.EpochDiagnostics = m =>
            {
                var d = new Dictionary<string, double>(measure?.Invoke(m) ?? new Dictionary<string, double>(), StringComparer.Ordinal);
                foreach (var kv in Evaluator.Evaluate(m, split, EvalTarget.Test, testOptions).Metrics) d[OraclePrefix + kv.Key] = kv.Value;
                return d;
            };
        }
        var epochs = new List<EpochRecord>(checkpoint?.Epochs ?? []);
        trainer.EpochCompleted += r =>
        {
            epochs.Add(r);
            context.Observer.Epoch(r);
            if (runDirectory is not null) WriteEpochLog(Path.Combine(runDirectory, "epochs.jsonl"), epochs);
        };
        if (runDirectory is not null && context.SaveCheckpoints)
        {
            trainer.NewBest += (_, state) => AtomicFile.WriteAllBytes(Path.Combine(runDirectory, "best.ckpt"), state);
            trainer.CheckpointEverySteps = spec.CheckpointEverySteps;
            trainer.Checkpoint += ck => AtomicFile.WriteAllBytes(Path.Combine(runDirectory, CheckpointFile),
                ck.WithRunIdentity(identity.Key, identity.Parts).ToBytes());
        }
        var outcome = trainer.Fit(model, split.Train, split.Validation.Count > 0
            ? m => Evaluator.Evaluate(m, split, EvalTarget.Validation, validationOptions).Metrics
            : null, resume: checkpoint);
        // without validation the last epoch is the result: best.ckpt holds it too, the model evaluated on test
        string best = runDirectory is null ? "" : Path.Combine(runDirectory, "best.ckpt");
        if (runDirectory is not null && context.SaveCheckpoints && !File.Exists(best)) AtomicFile.WriteAllBytes(best, model.SaveState());
        return outcome;
    }

    /// <summary>
    /// Trains the run's configuration again, from the same seed, on train + validation for <paramref name="epochs"/> (the
    /// validation-chosen count) without validation or early stopping, and returns its test metrics (same candidates and
    /// exclusions as the default result: the validation items were excluded from test ranking anyway). Null when the split has
    /// no validation interactions to add.
    /// </summary>
    private static SortedDictionary<string, double>? Retrain(RunSpec spec, Split split, int epochs, EvaluationOptions evalOptions, ExperimentContext context)
    {
        if (split.Validation.Count == 0 || epochs < 1) return null;
        var (tu, ti) = split.Train.ToPairs();
        var (vu, vi) = split.Validation.ToPairs();
        var merged = UserItems.FromPairs(split.NumUsers, split.NumItems, [.. tu, .. vu], [.. ti, .. vi]);
        context.Observer.Message($"Retraining on train + validation ({merged.Count:N0} pairs) for {epochs} epoch(s), the validation-chosen count (Rendle et al. 2019) …");
        using var built = BuildModel(spec, split.With(train: merged)).Model;
        if (built is not ITrainableRecommender model) return null;
        var trainer = new Trainer(spec.Train with { Epochs = epochs, EvalEvery = 0, Patience = 0 }) { Progress = new DirectProgress(context.Observer) };
        trainer.Fit(model, merged, null);
        return EvaluateTest(model, split, spec.FullRanking, evalOptions).Metrics;
    }

    /// <summary>Prefix of the per-epoch test metrics of an oracle-epoch run in each epoch's diagnostics (epochs.jsonl).</summary>
    internal const string OraclePrefix = "oracle_test/";

    /// <summary>The oracle epoch of a run trained with <see cref="RunSpec.OracleEpoch"/>: the epoch whose test value of
    /// <paramref name="metric"/> is highest (the earliest on ties), and that epoch's test metrics — or null when no epoch has them.</summary>
    internal static (int Epoch, SortedDictionary<string, double> Metrics)? OracleOf(IReadOnlyList<EpochRecord> epochs, string metric)
    {
        (int Epoch, SortedDictionary<string, double> Metrics)? best = null;
        double bestValue = double.NegativeInfinity;
        foreach (var e in epochs)
        {
            if (e.Diagnostics is not { } d || !d.TryGetValue(OraclePrefix + metric, out double v) || !(v > bestValue)) continue;
            bestValue = v;
            var m = new SortedDictionary<string, double>(StringComparer.Ordinal);
            foreach (var kv in d) if (kv.Key.StartsWith(OraclePrefix, StringComparison.Ordinal)) m[kv.Key[OraclePrefix.Length..]] = kv.Value;
            best = (e.Epoch, m);
        }
        return best;
    }

    /// <summary>The test evaluations (sampled candidates when the split has them; all items when asked or when it has
    /// none), their metrics in one map (full-ranking ones under "full/" beside sampled ones) and their wall time.</summary>
    private sealed record TestEvaluation(EvaluationResult? Sampled, EvaluationResult? Full, SortedDictionary<string, double> Metrics, double Seconds);

    private static TestEvaluation EvaluateTest(IRecommender model, Split split, bool fullRanking, EvaluationOptions options)
    {
        var metrics = new SortedDictionary<string, double>(StringComparer.Ordinal);
        EvaluationResult? sampled = null, full = null;
        var sw = Stopwatch.StartNew();
        if (split.TestNegatives is not null)
        {
            sampled = Evaluator.Evaluate(model, split, EvalTarget.Test, options with { Mode = CandidateMode.Sampled });
            foreach (var kv in sampled.Metrics) metrics[kv.Key] = kv.Value;
        }
        if (fullRanking || split.TestNegatives is null)
        {
            full = Evaluator.Evaluate(model, split, EvalTarget.Test, options with { Mode = CandidateMode.Full });
            foreach (var kv in full.Metrics) metrics[split.TestNegatives is null ? kv.Key : "full/" + kv.Key] = kv.Value;
        }
        return new TestEvaluation(sampled, full, metrics, sw.Elapsed.TotalSeconds);
    }

    /// <summary>The run's record (result.json): test metrics, the best epoch's validation metrics, timings and provenance.</summary>
    private static RunResult ResultOf(RunSpec spec, Interactions data, Split split, JsonObject config, TrainingOutcome? outcome,
        TestEvaluation test, PopularityBaseline? popularity, DateTime started)
    {
        var validation = new SortedDictionary<string, double>(StringComparer.Ordinal);
        var best = outcome?.Epochs.FirstOrDefault(e => e.Epoch == outcome.BestEpoch)?.Validation;
        if (best is not null) foreach (var kv in best) validation[kv.Key] = kv.Value;
        var oracle = spec.OracleEpoch && outcome is not null ? OracleOf(outcome.Epochs, spec.Train.ValidationMetric) : null;
        return new RunResult
        {
            Dataset = data.Name,
            Protocol = split.Protocol,
            Model = ModelRegistry.Get(spec.Model).Display,
            Config = config,
            Seed = spec.Train.Seed,
            Metrics = test.Metrics,
            TrainSeconds = outcome?.TrainSeconds ?? 0,
            Epochs = outcome?.Epochs.Count ?? 0,
            Commit = Provenance.Commit,
            BestEpoch = outcome?.BestEpoch ?? 0,
            ValidationMetrics = validation,
            SecondsPerEpoch = outcome is null || outcome.Epochs.Count == 0 ? 0 : outcome.TrainSeconds / outcome.Epochs.Count,
            EvalSeconds = (outcome?.EvalSeconds ?? 0) + test.Seconds,
            PeakMemoryMb = Lrml.Util.ProcessMemory.PeakBytes() / (1024.0 * 1024.0),
            Threads = spec.Train.Threads,
            StoppedEarly = outcome?.StoppedEarly ?? false,
            TestUsers = (test.Sampled ?? test.Full)?.Users.Length ?? 0,
            Split = new Dictionary<string, string>(split.Notes)
            {
                ["train_pairs"] = split.Train.Count.ToString(CultureInfo.InvariantCulture),
                ["validation_pairs"] = split.Validation.Count.ToString(CultureInfo.InvariantCulture),
                ["test_pairs"] = split.Test.Count.ToString(CultureInfo.InvariantCulture),
                ["seed"] = split.Seed.ToString(CultureInfo.InvariantCulture),
                ["fingerprint"] = Fingerprint(data),
            },
            DatasetProvenance = new Dictionary<string, string>(data.Provenance),
            Machine = new Dictionary<string, string>(Provenance.Machine()),
            StartedUtc = started,
            PopularityBaseline = popularity,
            OracleEpoch = oracle?.Epoch,
            OracleTestMetrics = oracle?.Metrics,
        };
    }

    /// <summary>The trained model's best validation value next to popularity's on the same split, candidates and metric
    /// (cheap: popularity scores are training counts); null without validation.</summary>
    private static PopularityBaseline? PopularityBaselineOf(TrainingOutcome? outcome, Split split, string metric, EvaluationOptions options)
    {
        if (outcome is null || split.Validation.Count == 0 || !double.IsFinite(outcome.BestValidation)) return null;
        using var popularity = PopularityModel.Fit(split.Train);
        var metrics = Evaluator.Evaluate(popularity, split, EvalTarget.Validation, options).Metrics;
        return metrics.TryGetValue(metric, out double value)
            ? new PopularityBaseline { Metric = metric, Model = outcome.BestValidation, Popularity = value }
            : null;
    }

    private sealed class DirectProgress(IRunObserver observer) : IProgress<TrainProgress>
    {
        public void Report(TrainProgress value) => observer.Progress(value);
    }

    private static void WriteEpochLog(string path, IReadOnlyList<EpochRecord> epochs)
    {
        var sb = new StringBuilder();
        foreach (var r in epochs)
        {
            var o = new JsonObject
            {
                ["epoch"] = r.Epoch, ["loss"] = r.Loss, ["mean_loss"] = r.MeanLoss, ["seconds"] = r.TrainSeconds,
                ["eval_seconds"] = r.EvalSeconds, ["steps"] = r.Steps, ["best"] = r.IsBest,
            };
            if (r.Validation is not null)
            {
                var v = new JsonObject();
                foreach (var kv in r.Validation) v[kv.Key] = kv.Value;
                o["validation"] = v;
            }
            EpochDiagnosticsJson.Write(r, o);
            sb.Append(o.ToJsonString()).Append('\n');
        }
        AtomicFile.WriteAllText(path, sb.ToString());
    }

    private static void WritePerUser(string path, Split split, EvaluationResult? sampled, EvaluationResult? full)
    {
        var rows = new SortedDictionary<int, Dictionary<string, double>>();
        var columns = new List<string>();
        void Add(EvaluationResult? r, string prefix)
        {
            if (r is null) return;
            foreach (var name in r.PerUser.Keys) columns.Add(prefix + name);
            foreach (var (name, values) in r.PerUser)
                for (int k = 0; k < r.Users.Length; k++)
                {
                    if (!rows.TryGetValue(r.Users[k], out var row)) rows[r.Users[k]] = row = new();
                    row[prefix + name] = values[k];
                }
        }
        Add(sampled, "");
        Add(full, sampled is null ? "" : "full/");
        var sb = new StringBuilder("user_index,user_id");
        foreach (var c in columns) sb.Append(',').Append(c);
        sb.Append('\n');
        foreach (var (u, row) in rows)
        {
            sb.Append(u).Append(',').Append(CsvText.Quote(split.UserIds is null ? u.ToString(CultureInfo.InvariantCulture) : split.UserIds[u]));
            foreach (var c in columns)
                sb.Append(',').Append(row.TryGetValue(c, out double v) ? v.ToString("R", CultureInfo.InvariantCulture) : "");
            sb.Append('\n');
        }
        AtomicFile.WriteAllText(path, sb.ToString());
    }
}

/// <summary>A finished run: its record, the per-user test evaluations, and the training trace.</summary>
public sealed record RunOutcome(RunResult Result, EvaluationResult? Sampled, EvaluationResult? Full, TrainingOutcome? Training, string? Directory);
