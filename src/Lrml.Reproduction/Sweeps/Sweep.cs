using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Lrml.Reproduction.Backends;
using Lrml.Reproduction;
using Lrml.Training;
using Lrml.Util;

using Lrml.Experiments;

using Lrml.Models;

namespace Lrml.Reproduction.Sweeps;

/// <summary>One finished trial or final run of a sweep (a row of trials.csv / finals.csv).</summary>
public sealed record TrialRecord
{
    /// <summary>0-based index in the sweep's trial list (−1 for final runs that are not trials).</summary>
    public int Trial { get; init; }
    /// <summary>"ok", or "diverged" when training blew up (the run is then excluded from selection and means).</summary>
    public string Status { get; init; } = "ok";
    /// <summary>Run seed.</summary>
    public long Seed { get; init; }
    /// <summary>Canonical configuration text (with the seed and the sweep's <see cref="Sweep.Identity"/>, what identifies the trial).</summary>
    public string Key { get; init; } = "";
    /// <summary>The searched settings of this trial (space keys only; fixed settings are in the spec).</summary>
    public Dictionary<string, string> Settings { get; init; } = new();
    /// <summary>Validation metrics at the best epoch.</summary>
    public SortedDictionary<string, double> Validation { get; init; } = new();
    /// <summary>Test metrics (recorded, never used for selection).</summary>
    public SortedDictionary<string, double> Test { get; init; } = new();
    /// <summary>Wall seconds of the run (training, validation and test evaluation).</summary>
    public double Seconds { get; init; }
    /// <summary>Epochs run.</summary>
    public int Epochs { get; init; }
    /// <summary>Best (kept) epoch.</summary>
    public int BestEpoch { get; init; }
    /// <summary>Run directory.</summary>
    public string RunDir { get; init; } = "";
    /// <summary>Whether the run ended no better than the popularity model on validation (same split, candidates and metric):
    /// a trial that did not train, flagged in the trial table.</summary>
    public bool NoBetterThanPopularity { get; init; }
    /// <summary>Failure message for a diverged run.</summary>
    public string? Error { get; init; }
}

/// <summary>Mean and sample standard deviation (n − 1) of one metric over the final runs.</summary>
public readonly record struct MeanStd(double Mean, double Std, int N)
{
    /// <summary>Mean and sample std of the values (std 0 for one value; NaN mean for none).</summary>
    public static MeanStd Of(IReadOnlyList<double> v)
    {
        if (v.Count == 0) return new(double.NaN, double.NaN, 0);
        double m = v.Average();
        double s = v.Count < 2 ? 0 : Math.Sqrt(v.Sum(x => (x - m) * (x - m)) / (v.Count - 1));
        return new(m, s, v.Count);
    }

    /// <summary>"0.7012 ± 0.0031".</summary>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Mean:F4} ± {Std:F4}");
}

/// <summary>What a sweep produced: every trial, the chosen one, the final runs and their mean ± std.</summary>
public sealed class SweepResult
{
    /// <summary>The spec as run.</summary>
    public required SweepSpec Spec { get; init; }
    /// <summary>Sweep directory (trials.csv, trials.json, finals.csv, chosen.json, summary.md).</summary>
    public required string Directory { get; init; }
    /// <summary>The space searched.</summary>
    public required SearchSpace Space { get; init; }
    /// <summary>Every trial, in trial order.</summary>
    public required IReadOnlyList<TrialRecord> Trials { get; init; }
    /// <summary>The trial with the best validation <see cref="SweepSpec.SelectionMetric"/>.</summary>
    public required TrialRecord Chosen { get; init; }
    /// <summary>The chosen configuration's runs, one per final seed (the first is the chosen trial itself).</summary>
    public required IReadOnlyList<TrialRecord> Finals { get; init; }
    /// <summary>Mean ± std over the successful final runs of every test metric ("HR@10", "full/nDCG@10", …) and of the
    /// validation metrics ("val/…").</summary>
    public required IReadOnlyDictionary<string, MeanStd> Summary { get; init; }
    /// <summary>Final runs that ended without a result on the cluster after every retry (also in <see cref="Finals"/> with
    /// status "missing"): the summary is over the others, and says so.</summary>
    public IReadOnlyList<BackendRun> Missing { get; init; } = [];

    /// <summary>The best validation <see cref="SweepSpec.SelectionMetric"/> after each trial, in trial order (diverged trials keep the
    /// best so far): the search curve. A budget is enough when the curve is flat at its end.</summary>
    public IReadOnlyList<double> BestSoFar => Sweep.BestSoFar(Trials, Spec.SelectionMetric);

    /// <summary>Whether doubling the budget helped: the best over the first half of the trials against the best over all of them,
    /// next to the seed noise of the chosen configuration (the std of the selection metric over the final seeds).</summary>
    public string BudgetSentence => Sweep.BudgetSentence(BestSoFar, Spec.SelectionMetric,
        Summary.TryGetValue("val/" + Spec.SelectionMetric, out var noise) && noise.N > 1 ? noise.Std : double.NaN);

    /// <summary>Trials as a table (config, seed, validation and test metrics, seconds, run dir).</summary>
    public ResultTable TrialTable => Sweep.Table($"{Spec.Model} sweep on {Spec.Dataset}: trials", Trials, Space);
    /// <summary>Final runs as a table.</summary>
    public ResultTable FinalTable => Sweep.Table($"{Spec.Model} on {Spec.Dataset}: final runs of the chosen config", Finals, Space);

    /// <summary>One row per metric: mean, std, n.</summary>
    public ResultTable SummaryTable
    {
        get
        {
            var t = new ResultTable($"{ModelRegistry.Get(Spec.Model).Display} on {Spec.Dataset}: chosen config, mean ± std over {Finals.Count} seeds", "metric", "mean", "std", "n");
            foreach (var (k, v) in Summary) t.AddRow(("metric", k), ("mean", v.Mean), ("std", v.Std), ("n", v.N));
            t.Format("mean", "F4").Format("std", "F4");
            t.Notes.Add("Chosen by validation " + Spec.SelectionMetric + ": " + string.Join(", ", Chosen.Settings.Select(kv => $"{kv.Key}={kv.Value}")));
            t.Notes.Add(BudgetSentence);
            foreach (var f in Finals.Where(f => f.Status == "missing"))
                t.Notes.Add($"Missing: the final run with seed {f.Seed} ended without a result and is not in the means ({f.Error}).");
            return t;
        }
    }
}

/// <summary>
/// Fair, recorded tuning: runs a fixed budget of trials of one model over a search space through <see cref="Experiment.Run"/>,
/// selects the configuration on the validation split only, then re-runs it with several seeds and reports mean ± std.
/// <list type="bullet">
/// <item>Every trial is appended to trials.json and trials.csv (config, seed, validation and test metrics, seconds, run dir),
/// both written atomically after each trial, so a sweep that dies keeps every finished trial; re-running the same sweep
/// skips finished trials (configuration text + seed) and finished final runs.</item>
/// <item>A sweep folder holds one sweep: sweep.json records its identity (<see cref="Identity"/>: the data checksums, protocol,
/// split, model, engine, epochs, patience, selection metric, first seed, fixed settings and training settings). Re-running
/// the folder with another identity is refused, naming what differs, so trials of another computation are never reused and
/// chosen.json never mixes datasets; the budget, the number of seeds, the search and the space may change (a larger budget
/// runs only the new trials).</item>
/// <item>A key both searched (space) and fixed (settings) is an error: the trial would be labelled with one value and run
/// with the other.</item>
/// <item>Selection reads <see cref="TrialRecord.Validation"/> only; ties go to the earlier trial. Diverged trials are
/// recorded and never chosen.</item>
/// <item>Trials run with <see cref="SweepSpec.FirstSeed"/>; the final runs use seeds FirstSeed … FirstSeed + n − 1, and the
/// chosen trial is the FirstSeed final run (same configuration and seed, so it is not trained twice).</item>
/// <item>chosen.json stores the chosen configuration, the budget, the space, every final run and the mean ± std; finals.csv
/// and summary.md the final runs.</item>
/// </list>
/// </summary>
public static class Sweep
{
    /// <summary>The sweep's short name of the trainer setting negatives_per_positive (as <c>--negatives</c>); it is part of the
    /// trial keys and identities of existing sweeps, so it stays.</summary>
    public const string NegativesAlias = "negatives";

    private static readonly Dictionary<string, string> TrainAliases = new() { [NegativesAlias] = ConfigBinder.Key<TrainConfig>(t => t.NegativesPerPositive) };

    /// <summary>The default directory: results/sweeps/&lt;dataset&gt;/&lt;protocol&gt;/&lt;name or model&gt;.</summary>
    public static string DefaultDirectory(SweepSpec spec, ExperimentContext context) =>
        Path.Combine(context.ResultsRoot, "sweeps", spec.Dataset, (spec.Protocol ?? Experiment.DefaultProtocol(spec.Dataset, context)).ToLowerInvariant(),
            spec.Name ?? ModelRegistry.Get(spec.Model).Name);

    /// <summary>Runs (or resumes) a sweep here, one run after the other; see the class remarks.</summary>
    public static SweepResult Run(SweepSpec spec, ExperimentContext context, string? directory = null) => Run(spec, context, directory, null);

    /// <summary>
    /// Runs (or resumes) a sweep through <paramref name="backend"/> (null: <see cref="LocalBackend"/>); see the class remarks.
    /// The trials go to the backend as one batch (one Slurm job array), then — once every trial has ended and the
    /// configuration is chosen — the other final seeds as a second batch. Each run that ends is recorded at once. When trials
    /// have not ended (queued on the cluster after <c>--no-wait</c>, or failed after every retry) nothing can be chosen fairly
    /// and <see cref="RunsOutstandingException"/> says which; the same call later picks up what finished. Final runs that
    /// ended without a result are reported in <see cref="SweepResult.Missing"/> and in finals.csv (status "missing").
    /// </summary>
    public static SweepResult Run(SweepSpec spec, ExperimentContext context, string? directory, IRunBackend? backend)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(context);
        spec.Validate();
        backend ??= LocalBackend.Instance;
        var entry = ModelRegistry.Get(spec.Model);
        string dir = Path.GetFullPath(directory ?? DefaultDirectory(spec, context));

        var fixedSettings = spec.Settings.ToList();
        (Pretrained Gmf, Pretrained Mlp)? pretrain = null;
        if (spec.PretrainFrom is { } from)
        {
            var g = Pretrained.Read(from.Gmf, "gmf");
            var m = Pretrained.Read(from.Mlp, "mlp");
            pretrain = (g, m);
            fixedSettings.Add(ConfigBinder.Pair<NeuMfConfig>(c => c.Dim, g.Settings.First(kv => ConfigBinder.Normalise(kv.Key) == Normalised<GmfConfig>(c => c.Dim)).Value));
            fixedSettings.Add(ConfigBinder.Pair<NeuMfConfig>(c => c.Layers, m.Settings.First(kv => ConfigBinder.Normalise(kv.Key) == Normalised<MlpConfig>(c => c.Layers)).Value));
        }
        if (spec.Space is null && !DefaultSpaces.Declares(spec.Model))
            context.Observer.Message($"{entry.Display} declares no default search space (DefaultSpaces): the sweep runs one trial with its default settings; " +
                                     "give --space key=v1,v2 to search.");
        var space = spec.Space ?? DefaultSpaces.For(spec.Model, pretrain is not null);
        if (pretrain is not null && space.Dimensions.Any(d => ConfigBinder.Normalise(d.Key) == Normalised<NeuMfConfig>(c => c.Dim)
                                                            || ConfigBinder.Normalise(d.Key) == Normalised<NeuMfConfig>(c => c.Layers)))
            throw new ArgumentException("A pre-trained NeuMF takes dim and layers from its GMF and MLP sweeps: remove them from the space.");
        CheckKeys(entry, space.Dimensions.Select(d => d.Key).Concat(fixedSettings.Select(kv => kv.Key)));
        CheckSearchedAndFixed(space, fixedSettings);
        ConfigBinder.Apply(spec.Train with { Epochs = spec.EffectiveEpochs, Patience = spec.EffectivePatience, MinEpochs = spec.EffectiveMinEpochs }, Route(fixedSettings).Train).Validate();
        var identity = Identity(spec, fixedSettings,
            pretrain is { } pre ? new JsonObject { ["gmf"] = pre.Gmf.IdentityJson(), ["mlp"] = pre.Mlp.IdentityJson() } : null, context);

        // one process per sweep folder (a second one would mix budgets in trials.json and finals.json); nothing is created
        // before the arguments are checked, and a folder holding another sweep is refused before anything is rewritten
        using var sweepLock = FolderLock.Acquire(dir, "The sweep directory", "Wait for it to finish, or give this sweep another --name or --out.");
        CheckSameSweep(dir, identity);
        System.IO.Directory.CreateDirectory(dir);
        AtomicFile.DeleteStaleTemps(dir);
        WriteSpec(spec, space, fixedSettings, identity, dir);
        // every run of a sweep may replace a stale or unfinished directory of its own (the directory names carry the config hash)
        var ctx = new ExperimentContext
        {
            Data = context.Data, ResultsRoot = context.ResultsRoot, Observer = context.Observer, Overwrite = true, SaveCheckpoints = context.SaveCheckpoints, KeepCheckpoints = context.KeepCheckpoints,
        };

        var trialsPath = Path.Combine(dir, "trials.json");
        var records = ReadRecords(trialsPath);
        var configs = spec.DefaultFirst && spec.Space is null
            ? WithDefaultFirst(space, spec, entry, fixedSettings)
            : space.Trials(spec.Search, spec.EffectiveTrials, spec.SearchSeed);
        int seeds = entry.Deterministic ? 1 : spec.EffectiveSeeds;
        if (entry.Deterministic && spec.EffectiveSeeds > 1)
            context.Observer.Message($"{entry.Display} is not trained (its scores do not depend on the seed): one run, no extra seeds.");
        context.Observer.Message($"Sweep {entry.Name} on {spec.Dataset}: {configs.Count} trials ({spec.Search.ToString().ToLowerInvariant()}, budget {spec.EffectiveTrials}), " +
                                 $"{records.Count} already finished; space {space}");
        var trials = new TrialRecord?[configs.Count];
        var trialRuns = new List<(int Trial, PlannedRun Run)>();
        for (int t = 0; t < configs.Count; t++)
        {
            string key = SearchSpace.Key(configs[t]);
            var done = records.FirstOrDefault(r => r.Key == key && r.Seed == spec.FirstSeed && r.Trial >= 0);
            if (done is not null) { trials[t] = done with { Trial = t }; continue; }
            var run = Plan(spec, context, configs[t], fixedSettings, spec.FirstSeed, Path.Combine(dir, "trials", $"t{t:000}-{KeyHash(key)}-seed{spec.FirstSeed}"), pretrain, dir);
            trialRuns.Add((t, run with { Label = $"Trial {t + 1}/{configs.Count}: {key}" }));
        }
        if (trialRuns.Count > 0)
        {
            var byDir = trialRuns.ToDictionary(r => r.Run.Directory, r => r.Trial);
            var ended = backend.Run(trialRuns.Select(r => r.Run).ToList(), ctx, dir, $"trials of {entry.Name}", r =>
            {
                int t = byDir[r.Planned.Directory];
                var rec = Record(r, configs[t], spec.FirstSeed) with { Trial = t };
                trials[t] = rec;
                records.RemoveAll(x => x.Key == rec.Key && x.Seed == spec.FirstSeed);
                records.Add(rec);
                SaveRecords(trialsPath, records);
                Table($"{spec.Model} sweep on {spec.Dataset}: trials", trials.OfType<TrialRecord>().ToList(), space).Save(dir, "trials");
            });
            RunsOutstandingException.ThrowIfAny(ended, $"trials of the {entry.Name} sweep in {dir}");
        }
        var trialList = trials.Select(t => t!).ToList();
        Table($"{spec.Model} sweep on {spec.Dataset}: trials", trialList, space).Save(dir, "trials");

        var chosen = Choose(trialList, spec.SelectionMetric)
            ?? throw new InvalidOperationException($"No trial of the {entry.Name} sweep finished (all diverged): see {Path.Combine(dir, "trials.csv")}.");
        context.Observer.Message(ChosenMessage(chosen, spec.SelectionMetric, trialList));

        var finalsPath = Path.Combine(dir, "finals.json");
        var finalRecords = ReadRecords(finalsPath);
        var finals = new TrialRecord?[seeds];
        finals[0] = chosen;
        var chosenConfig = configs[chosen.Trial];
        var finalRuns = new List<(int Index, PlannedRun Run)>();
        for (int s = 1; s < seeds; s++)
        {
            long seed = spec.FirstSeed + s;
            var done = finalRecords.FirstOrDefault(r => r.Key == chosen.Key && r.Seed == seed);
            if (done is not null) { finals[s] = done; continue; }
            var run = Plan(spec, context, chosenConfig, fixedSettings, seed, Path.Combine(dir, "finals", $"seed{seed}-{KeyHash(chosen.Key)}"), pretrain, dir);
            finalRuns.Add((s, run with { Label = $"Final run seed {seed} ({s + 1}/{seeds}): {chosen.Key}" }));
        }
        var missing = new List<BackendRun>();
        if (finalRuns.Count > 0)
        {
            var byDir = finalRuns.ToDictionary(r => r.Run.Directory, r => r.Index);
            var ended = backend.Run(finalRuns.Select(r => r.Run).ToList(), ctx, dir, $"final runs of {entry.Name}", r =>
            {
                int s = byDir[r.Planned.Directory];
                var rec = Record(r, chosenConfig, spec.FirstSeed + s) with { Trial = -1 };
                finals[s] = rec;
                finalRecords.RemoveAll(x => x.Key == rec.Key && x.Seed == rec.Seed);
                finalRecords.Add(rec);
                SaveRecords(finalsPath, finalRecords);
            });
            if (ended.Any(r => r.State == RunState.Queued)) RunsOutstandingException.ThrowIfAny(ended, $"final runs of the {entry.Name} sweep in {dir}");
            missing.AddRange(ended.Where(r => r.State == RunState.Missing));
            foreach (var m in missing)
            {
                int s = byDir[m.Planned.Directory];
                finals[s] = new TrialRecord
                {
                    Trial = -1, Status = "missing", Seed = spec.FirstSeed + s, Key = chosen.Key, Settings = chosen.Settings, RunDir = m.Planned.Directory, Error = m.Message,
                };
            }
        }
        var finalList = finals.Select(f => f!).ToList();
        var ok = finalList.Where(f => f.Status == "ok").ToList();
        var summary = new SortedDictionary<string, MeanStd>(StringComparer.Ordinal);
        foreach (var k in ok.SelectMany(f => f.Test.Keys).Distinct())
            summary[k] = MeanStd.Of(ok.Where(f => f.Test.ContainsKey(k)).Select(f => f.Test[k]).ToList());
        foreach (var k in ok.SelectMany(f => f.Validation.Keys).Distinct())
            summary["val/" + k] = MeanStd.Of(ok.Where(f => f.Validation.ContainsKey(k)).Select(f => f.Validation[k]).ToList());
        var result = new SweepResult
        {
            Spec = spec, Directory = dir, Space = space, Trials = trialList, Chosen = chosen, Finals = finalList, Summary = summary, Missing = missing,
        };
        result.FinalTable.Save(dir, "finals");
        context.Observer.Message(result.BudgetSentence);
        AtomicFile.WriteAllText(Path.Combine(dir, "summary.md"), result.SummaryTable.ToMarkdown());
        WriteChosen(result, fixedSettings, Path.Combine(dir, "chosen.json"));
        return result;
    }

    /// <summary>The best validation value of <paramref name="metric"/> after each trial (NaN until a trial succeeds).</summary>
    internal static double[] BestSoFar(IReadOnlyList<TrialRecord> trials, string metric)
    {
        var curve = new double[trials.Count];
        double best = double.NaN;
        for (int i = 0; i < trials.Count; i++)
        {
            if (trials[i].Status == "ok" && trials[i].Validation.TryGetValue(metric, out double v) && double.IsFinite(v) && !(v <= best)) best = v;
            curve[i] = best;
        }
        return curve;
    }

    /// <summary>
    /// Whether the budget was enough: the best after the first half of the trials against the best after all of them (the budget
    /// doubled once), compared with <paramref name="seedNoise"/> (the std of the chosen configuration over its final seeds). "Flat"
    /// only when the second half added less than the seed noise; with fewer than 4 trials or one seed nothing is claimed.
    /// </summary>
    internal static string BudgetSentence(IReadOnlyList<double> bestSoFar, string metric, double seedNoise)
    {
        int n = bestSoFar.Count, half = n / 2;
        if (n < 4 || double.IsNaN(bestSoFar[half - 1]) || double.IsNaN(bestSoFar[^1]))
            return $"Search curve: {n} trial(s) — too few to tell whether the budget was enough (run at least 4).";
        double gain = bestSoFar[^1] - bestSoFar[half - 1];
        string head = FormattableString.Invariant($"Search curve: best validation {metric} {bestSoFar[half - 1]:F4} after the first {half} trials, {bestSoFar[^1]:F4} after all {n} (+{gain:F4})");
        if (double.IsNaN(seedNoise)) return head + "; with one final seed there is no seed noise to compare the gain with (run ≥ 2 seeds).";
        return head + FormattableString.Invariant($"; seed noise of the chosen configuration {seedNoise:F4} (std over its final seeds): ") +
               (gain < seedNoise
                   ? "the second half of the budget added less than the seed noise — flat, the budget was enough."
                   : "the second half of the budget still improved by more than the seed noise — not flat: give the search a larger budget.");
    }

    /// <summary>What the sweep says it chose: the trial, its settings and validation value, and whether it was the default
    /// configuration (trial 0). A model without settings or validation (popularity) says so instead of "() … NaN".</summary>
    internal static string ChosenMessage(TrialRecord chosen, string metric, IReadOnlyList<TrialRecord> trials)
    {
        string settings = chosen.Key.Length == 0 ? "no settings" : chosen.Key;
        string value = chosen.Validation.TryGetValue(metric, out double v) && double.IsFinite(v)
            ? string.Create(CultureInfo.InvariantCulture, $"validation {metric} {v:F4}")
            : "no validation metric (the model is not trained, so there was nothing to choose)";
        string origin = chosen.Trial == 0 && trials.Count > 1 ? ", the model's default configuration" : "";
        int flagged = trials.Count(t => t.NoBetterThanPopularity);
        string flag = flagged == 0 ? "" : $"; {flagged} of {trials.Count} trials ended no better than popularity on validation (column no_better_than_pop)";
        return $"Chosen on validation {metric}: trial {chosen.Trial} ({settings}{origin}), {value}{flag}";
    }

    /// <summary>
    /// The trial list with the model's default configuration as trial 0, so a search can never choose a configuration that
    /// scores below the default on validation. The default takes each searched key's default value (the model's config record or
    /// the trainer's; a one-value dimension keeps its value). When it is a point of the search anyway it is moved to the front;
    /// otherwise it takes one slot of the budget, so every model still gets the same number of trials.
    /// </summary>
    internal static List<IReadOnlyList<KeyValuePair<string, string>>> WithDefaultFirst(SearchSpace space, SweepSpec spec, ModelEntry entry,
        IReadOnlyList<KeyValuePair<string, string>> fixedSettings)
    {
        int budget = spec.EffectiveTrials;
        var defaults = entry.DefaultConfig();
        var (_, trainFixed) = Route(fixedSettings);
        var train = ConfigBinder.ToJson(ConfigBinder.Apply(spec.Train, trainFixed));
        var modelDefaults = defaults.ToDictionary(kv => ConfigBinder.Normalise(kv.Key), kv => kv.Value);
        var trainDefaults = train.ToDictionary(kv => ConfigBinder.Normalise(kv.Key), kv => kv.Value);
        var dflt = new List<KeyValuePair<string, string>>();
        foreach (var d in space.Dimensions)
        {
            string value;
            if (d.Kind == DimensionKind.Values && d.Values.Count == 1) value = d.Values[0];
            else
            {
                string key = CanonicalKey(d.Key);
                JsonNode? node = modelDefaults.TryGetValue(key, out var m) ? m : trainDefaults.GetValueOrDefault(key);
                value = node switch
                {
                    null => throw new InvalidOperationException($"No default value for '{d.Key}'."),
                    JsonValue v when v.TryGetValue(out string? text) => text,
                    _ => node.ToJsonString(),
                };
            }
            dflt.Add(new(d.Key, value));
        }
        var trials = space.Trials(spec.Search, budget, spec.SearchSeed);
        int same = trials.FindIndex(t => SameConfig(t, dflt));
        if (same >= 0) { var t = trials[same]; trials.RemoveAt(same); trials.Insert(0, t); return trials; }
        if (trials.Count >= budget) trials = budget > 1 ? space.Trials(spec.Search, budget - 1, spec.SearchSeed) : [];
        trials.Insert(0, dflt);
        return trials;
    }

    /// <summary>Whether two configurations of the same keys have equal values: numbers compared as numbers (1e-3 = 0.001),
    /// text case-insensitively and without blanks.</summary>
    private static bool SameConfig(IReadOnlyList<KeyValuePair<string, string>> a, IReadOnlyList<KeyValuePair<string, string>> b)
    {
        static bool Equal(string x, string y) =>
            double.TryParse(x, NumberStyles.Float, CultureInfo.InvariantCulture, out double dx) && double.TryParse(y, NumberStyles.Float, CultureInfo.InvariantCulture, out double dy)
                ? dx == dy
                : string.Equals(x.Replace(" ", ""), y.Replace(" ", ""), StringComparison.OrdinalIgnoreCase);
        return a.Count == b.Count && a.Zip(b).All(p => p.First.Key == p.Second.Key && Equal(p.First.Value, p.Second.Value));
    }

    /// <summary>8 hex digits of the SHA-256 of a configuration key. Run directories carry it, so two configurations never
    /// share a directory even when a larger budget or another grid subsample renumbers the trials.</summary>
    internal static string KeyHash(string key) =>
        Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(key)))[..8];

    /// <summary>The best successful trial by the validation metric (earlier trial on ties), or null. Test metrics are not read.</summary>
    public static TrialRecord? Choose(IReadOnlyList<TrialRecord> trials, string metric)
    {
        TrialRecord? best = null;
        double bestValue = double.NegativeInfinity;
        foreach (var t in trials)
        {
            if (t.Status != "ok") continue;
            double v = t.Validation.TryGetValue(metric, out double x) && double.IsFinite(x) ? x : double.NegativeInfinity;
            if (best is null || v > bestValue) { best = t; bestValue = v; }
        }
        return best;
    }

    /// <summary>The run of one configuration at one seed: its spec (space values and fixed settings routed to the model and the
    /// trainer) and its directory. A NeuMF pre-trained from GMF/MLP sweeps gets their runs at this seed (trained here when a
    /// sweep lacks that seed).</summary>
    private static PlannedRun Plan(SweepSpec spec, ExperimentContext context, IReadOnlyList<KeyValuePair<string, string>> config,
        List<KeyValuePair<string, string>> fixedSettings, long seed, string runDir, (Pretrained Gmf, Pretrained Mlp)? pretrain, string sweepDir)
    {
        var all = config.Concat(fixedSettings).ToList();
        var (modelSettings, trainSettings) = Route(all);
        var train = spec.Train with
        {
            Epochs = spec.EffectiveEpochs, Patience = spec.EffectivePatience, MinEpochs = spec.EffectiveMinEpochs, ValidationMetric = spec.SelectionMetric, Seed = seed,
        };
        train = ConfigBinder.Apply(train, trainSettings);
        var runSpec = new RunSpec
        {
            Dataset = spec.Dataset, Protocol = spec.Protocol, Model = spec.Model, Engine = spec.Engine, Settings = modelSettings, Train = train,
            SplitSeed = spec.SplitSeed, SampledNegatives = spec.SampledNegatives, FullRanking = spec.FullRanking,
        };
        if (pretrain is { } p)
        {
            string g = p.Gmf.RunFor(seed, spec, context, Path.Combine(sweepDir, "pretrain", $"gmf-seed{seed}"));
            string m = p.Mlp.RunFor(seed, spec, context, Path.Combine(sweepDir, "pretrain", $"mlp-seed{seed}"));
            runSpec = runSpec with { Settings = modelSettings.Append(ConfigBinder.Pair<NeuMfConfig>(c => c.Pretrain, g + "," + m)).ToList() };
        }
        return new PlannedRun(runSpec, runDir);
    }

    /// <summary>The record of a run that ended: its metrics, or "diverged" with the failure (recorded, never chosen).</summary>
    private static TrialRecord Record(BackendRun r, IReadOnlyList<KeyValuePair<string, string>> config, long seed)
    {
        string key = SearchSpace.Key(config);
        var settings = config.ToDictionary(kv => kv.Key, kv => kv.Value);
        if (r.State == RunState.Diverged)
            return new TrialRecord
            {
                Status = "diverged", Seed = seed, Key = key, Settings = settings, Seconds = r.Seconds, Epochs = r.DivergedEpoch, RunDir = r.Planned.Directory, Error = r.Message,
            };
        var result = r.Run?.Result ?? throw new InvalidOperationException($"{r.Planned.Directory}: the run has no result ({r.State}).");
        return new TrialRecord
        {
            Seed = seed, Key = key, Settings = settings, Validation = result.ValidationMetrics, Test = result.Metrics,
            Seconds = r.Seconds, Epochs = result.Epochs, BestEpoch = result.BestEpoch, RunDir = r.Planned.Directory,
            NoBetterThanPopularity = result.NoBetterThanPopularity,
        };
    }

    /// <summary>Splits settings into model settings and trainer settings (TrainConfig keys and the alias "negatives").</summary>
    public static (List<KeyValuePair<string, string>> Model, List<KeyValuePair<string, string>> Train) Route(IEnumerable<KeyValuePair<string, string>> settings)
    {
        var trainKeys = ConfigBinder.ToJson(new TrainConfig()).Select(kv => ConfigBinder.Normalise(kv.Key)).ToHashSet();
        var model = new List<KeyValuePair<string, string>>(); var train = new List<KeyValuePair<string, string>>();
        foreach (var (k, v) in settings)
        {
            string key = TrainAliases.TryGetValue(k.ToLowerInvariant(), out var alias) ? alias : k;
            if (trainKeys.Contains(ConfigBinder.Normalise(key))) train.Add(new(key, v));
            else model.Add(new(k, v));
        }
        return (model, train);
    }

    private static void CheckKeys(ModelEntry entry, IEnumerable<string> keys)
    {
        var modelKeys = entry.DefaultConfig().Select(kv => ConfigBinder.Normalise(kv.Key)).ToHashSet();
        var trainKeys = ConfigBinder.ToJson(new TrainConfig()).Select(kv => ConfigBinder.Normalise(kv.Key)).ToHashSet();
        foreach (var k in keys)
        {
            string n = ConfigBinder.Normalise(TrainAliases.GetValueOrDefault(k.ToLowerInvariant(), k));
            if (n is "seed" or "validationmetric")
                throw new ArgumentException($"'{k}' is set by the sweep itself (seeds and the selection metric), not by the space.");
            if (!modelKeys.Contains(n) && !trainKeys.Contains(n))
                throw new ArgumentException($"Unknown setting '{k}' for {entry.Name}. Model settings: {string.Join(", ", entry.DefaultConfig().Select(kv => kv.Key))}; " +
                                            $"trainer settings: negatives, {string.Join(", ", ConfigBinder.ToJson(new TrainConfig()).Select(kv => kv.Key))}.");
        }
    }

    private static string Normalised<T>(System.Linq.Expressions.Expression<Func<T, object?>> property) where T : class =>
        ConfigBinder.Normalise(ConfigBinder.Key(property));

    private static string CanonicalKey(string key) => ConfigBinder.Normalise(TrainAliases.GetValueOrDefault(key.ToLowerInvariant(), key));

    /// <summary>A key both searched and fixed would run every trial with the fixed value while labelling it with the searched one.</summary>
    private static void CheckSearchedAndFixed(SearchSpace space, IEnumerable<KeyValuePair<string, string>> fixedSettings)
    {
        foreach (var (k, v) in fixedSettings)
            if (space.Dimensions.FirstOrDefault(d => CanonicalKey(d.Key) == CanonicalKey(k)) is { } d)
                throw new ArgumentException($"'{k}' is both searched ({d}) and fixed ({k}={v}): every trial would run with {k}={v} " +
                                            "but be labelled with the searched value. Remove it from the space (--space) or from the fixed settings (--set).");
    }

    /// <summary>
    /// The identity of a sweep: what every trial and final run shares, so that the trials recorded in a folder are reused only
    /// by the same sweep — <see cref="Experiment.SplitIdentity"/> (dataset, protocol, split seed, sampled negatives, checksum of
    /// every data file), <see cref="RunIdentity.NumericsVersion"/>, the model and engine, the epoch cap, patience, selection metric,
    /// first seed, full ranking, the fixed settings, the base training settings and the pre-training sweeps
    /// (<paramref name="pretrain"/>: their folders, chosen configurations and identities). A trial is this plus its configuration
    /// and seed.
    /// </summary>
    internal static JsonObject Identity(SweepSpec spec, IReadOnlyList<KeyValuePair<string, string>> fixedSettings, JsonObject? pretrain, ExperimentContext context)
    {
        string protocol = (spec.Protocol ?? Experiment.DefaultProtocol(spec.Dataset, context)).ToLowerInvariant();
        int negatives = new RunSpec { Dataset = spec.Dataset, Model = spec.Model, SampledNegatives = spec.SampledNegatives }.SampledNegativesFor(protocol);
        var train = spec.Train.IdentityJson();
        foreach (var k in new[] { "epochs", "patience", "min_epochs", "validation_metric", "seed" }) train.Remove(k);   // set by the sweep itself
        var fixedJson = new JsonObject();
        foreach (var (k, v) in fixedSettings) fixedJson[CanonicalKey(k)] = v.Trim();
        return new JsonObject
        {
            ["numerics_version"] = RunIdentity.NumericsVersion,
            ["split"] = Experiment.SplitIdentity(spec.Dataset, protocol, spec.SplitSeed, negatives, context),
            ["model"] = ModelRegistry.Get(spec.Model).Name, ["engine"] = spec.Engine?.ToLowerInvariant(),
            ["epochs"] = spec.EffectiveEpochs, ["patience"] = spec.EffectivePatience, ["selection_metric"] = spec.SelectionMetric,
            ["min_epochs"] = spec.EffectiveMinEpochs, ["first_seed"] = spec.FirstSeed, ["full_ranking"] = spec.FullRanking, ["fixed"] = RunIdentity.Sorted(fixedJson), ["train"] = train,
            ["pretrain_from"] = pretrain,
        };
    }

    /// <summary>Refuses a sweep folder whose sweep.json records another identity (or none: an older kit).</summary>
    private static void CheckSameSweep(string dir, JsonObject identity)
    {
        string path = Path.Combine(dir, "sweep.json");
        if (!File.Exists(path)) return;
        JsonNode? stored;
        try { stored = JsonNode.Parse(File.ReadAllText(path))?["identity"]; }
        catch (JsonException) { stored = null; }
        var differences = RunIdentity.Differences(stored, identity);
        if (differences.Count > 0)
            throw new IOException($"The sweep folder '{dir}' holds a different sweep ({RunIdentity.Describe(differences)}). A sweep folder holds one sweep: " +
                                  "choose another --out or --name, or delete the folder to start again.");
    }

    internal static List<TrialRecord> ReadRecords(string path)
    {
        if (!File.Exists(path)) return new();
        try
        {
            var records = JsonSerializer.Deserialize<List<TrialRecord>>(File.ReadAllText(path), ConfigBinder.Json)
                ?? throw new JsonException("the file holds null");
            if (records.Any(r => r is null || r.Key is null)) throw new JsonException("a record has no configuration key");
            return records;
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"{path}: not a sweep record file ({ex.Message.Split('\n')[0].TrimEnd('.')}). The kit writes it atomically, " +
                "so it was damaged from outside: restore it from a backup, or delete it to run the sweep's trials again (their run directories are reused).", ex);
        }
    }

    private static void SaveRecords(string path, List<TrialRecord> records) =>
        AtomicFile.WriteAllText(path, JsonSerializer.Serialize(records, ConfigBinder.Json) + "\n");

    private static void WriteSpec(SweepSpec spec, SearchSpace space, List<KeyValuePair<string, string>> fixedSettings, JsonObject identity, string dir)
    {
        var o = new JsonObject
        {
            ["dataset"] = spec.Dataset, ["protocol"] = spec.Protocol, ["model"] = ModelRegistry.Get(spec.Model).Name, ["engine"] = spec.Engine,
            ["search"] = spec.Search.ToString().ToLowerInvariant(), ["trials"] = spec.EffectiveTrials, ["seeds"] = spec.EffectiveSeeds,
            ["first_seed"] = spec.FirstSeed, ["profile"] = spec.Profile.ToString().ToLowerInvariant(), ["epochs"] = spec.EffectiveEpochs,
            ["patience"] = spec.EffectivePatience, ["min_epochs"] = spec.EffectiveMinEpochs, ["selection_metric"] = spec.SelectionMetric, ["split_seed"] = spec.SplitSeed,
            ["sampled_negatives"] = spec.SampledNegatives, ["search_seed"] = spec.SearchSeed,
            ["space"] = new JsonArray(space.Dimensions.Select(d => (JsonNode)d.ToString()).ToArray()),
            ["fixed"] = new JsonArray(fixedSettings.Select(kv => (JsonNode)$"{kv.Key}={kv.Value}").ToArray()),
            ["train"] = ConfigBinder.ToJson(spec.Train),
            ["pretrain_from"] = spec.PretrainFrom is { } p ? new JsonArray(p.Gmf, p.Mlp) : null,
            ["identity"] = identity.DeepClone(),
        };
        AtomicFile.WriteAllText(Path.Combine(dir, "sweep.json"), o.ToJsonString(ConfigBinder.Json) + "\n");
    }

    private static void WriteChosen(SweepResult r, List<KeyValuePair<string, string>> fixedSettings, string path)
    {
        JsonObject Dict(IEnumerable<KeyValuePair<string, double>> d) { var o = new JsonObject(); foreach (var (k, v) in d) o[k] = v; return o; }
        var settings = new JsonObject();
        foreach (var (k, v) in r.Chosen.Settings.Concat(fixedSettings)) settings[k] = v;
        var o = new JsonObject
        {
            ["model"] = ModelRegistry.Get(r.Spec.Model).Name,
            ["display"] = ModelRegistry.Get(r.Spec.Model).Display,
            ["dataset"] = r.Spec.Dataset,
            ["protocol"] = r.Spec.Protocol,
            ["selection_metric"] = r.Spec.SelectionMetric,
            ["selected_on"] = "validation",
            ["chosen_trial"] = r.Chosen.Trial,
            ["chosen_key"] = r.Chosen.Key,
            ["validation"] = Dict(r.Chosen.Validation),
            ["settings"] = settings,
            ["budget"] = r.Spec.EffectiveTrials,
            ["trials_run"] = r.Trials.Count,
            ["search"] = r.Spec.Search.ToString().ToLowerInvariant(),
            ["space"] = new JsonArray(r.Space.Dimensions.Select(d => (JsonNode)d.ToString()).ToArray()),
            ["final_runs"] = new JsonArray(r.Finals.Select(f => (JsonNode)new JsonObject
            {
                ["seed"] = f.Seed, ["status"] = f.Status, ["run_dir"] = f.RunDir, ["seconds"] = f.Seconds, ["epochs"] = f.Epochs,
                ["test"] = Dict(f.Test), ["validation"] = Dict(f.Validation),
            }).ToArray()),
            ["mean"] = Dict(r.Summary.Select(kv => new KeyValuePair<string, double>(kv.Key, kv.Value.Mean))),
            ["std"] = Dict(r.Summary.Select(kv => new KeyValuePair<string, double>(kv.Key, kv.Value.Std))),
            ["n"] = r.Finals.Count(f => f.Status == "ok"),
            ["commit"] = Provenance.Commit,
        };
        AtomicFile.WriteAllText(path, o.ToJsonString(ConfigBinder.Json) + "\n");
    }

    /// <summary>Records as a table: trial, status, seed, each space key, val/… metrics, test metrics, seconds, epochs, run dir.</summary>
    public static ResultTable Table(string title, IReadOnlyList<TrialRecord> records, SearchSpace space)
    {
        var t = new ResultTable(title, "trial", "status", "seed");
        foreach (var d in space.Dimensions) t.AddColumn(d.Key);
        var valKeys = records.SelectMany(r => r.Validation.Keys).Distinct().Order(StringComparer.Ordinal).ToList();
        var testKeys = records.SelectMany(r => r.Test.Keys).Distinct().Order(StringComparer.Ordinal).ToList();
        foreach (var k in valKeys) t.AddColumn("val/" + k, "F4");
        foreach (var k in testKeys) t.AddColumn("test/" + k, "F4");
        t.AddColumn("best_so_far", "F4").AddColumn("seconds", "F1").AddColumn("epochs").AddColumn("best_epoch").AddColumn("no_better_than_pop").AddColumn("run_dir");
        var metric = valKeys.Contains("nDCG@10") ? "nDCG@10" : valKeys.FirstOrDefault() ?? "nDCG@10";
        var curve = BestSoFar(records, metric);   // records come in trial order; final runs (trial −1) have no curve
        for (int i = 0; i < records.Count; i++)
        {
            var r = records[i];
            var cells = new List<(string, object?)> { ("trial", r.Trial), ("status", r.Status), ("seed", r.Seed) };
            foreach (var d in space.Dimensions) cells.Add((d.Key, r.Settings.GetValueOrDefault(d.Key)));
            foreach (var k in valKeys) cells.Add(("val/" + k, r.Validation.TryGetValue(k, out double v) ? v : null));
            foreach (var k in testKeys) cells.Add(("test/" + k, r.Test.TryGetValue(k, out double v) ? v : null));
            cells.Add(("best_so_far", r.Trial >= 0 && !double.IsNaN(curve[i]) ? curve[i] : null));
            cells.Add(("seconds", r.Seconds)); cells.Add(("epochs", r.Epochs)); cells.Add(("best_epoch", r.BestEpoch));
            cells.Add(("no_better_than_pop", r.NoBetterThanPopularity ? "yes" : "")); cells.Add(("run_dir", r.RunDir));
            t.AddRow(cells.ToArray());
        }
        return t;
    }

    /// <summary>A finished GMF or MLP sweep used to pre-train NeuMF: its chosen settings and its final run per seed, and the
    /// identity its sweep.json records (null for sweeps of older kits).</summary>
    private sealed record Pretrained(string Model, List<KeyValuePair<string, string>> Settings, Dictionary<long, string> Runs, string Dataset, string? Protocol,
        string Directory, string ChosenKey, JsonNode? SweepIdentity)
    {
        /// <summary>What a NeuMF sweep's identity records of this pre-training sweep: its folder, chosen configuration and identity.</summary>
        public JsonObject IdentityJson() => new()
        {
            ["dir"] = Directory, ["chosen"] = ChosenKey, ["sweep"] = SweepIdentity is null ? null : RunIdentity.Hash(SweepIdentity, 16),
        };

        public static Pretrained Read(string sweepDir, string model)
        {
            string path = Path.Combine(sweepDir, "chosen.json");
            if (!File.Exists(path)) throw new ArgumentException($"'{sweepDir}' has no chosen.json: run the {model} sweep to the end first.");
            var o = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
            if ((string?)o["model"] != model) throw new ArgumentException($"'{sweepDir}' is a {(string?)o["model"]} sweep, not {model}.");
            var settings = o["settings"]!.AsObject().Select(kv => new KeyValuePair<string, string>(kv.Key, (string)kv.Value!)).ToList();
            var runs = new Dictionary<long, string>();
            foreach (var f in o["final_runs"]!.AsArray())
                if ((string?)f!["status"] == "ok") runs[(long)f["seed"]!] = (string)f["run_dir"]!;
            string specPath = Path.Combine(sweepDir, "sweep.json");
            var identity = File.Exists(specPath) ? JsonNode.Parse(File.ReadAllText(specPath))?["identity"]?.DeepClone() : null;
            return new Pretrained(model, settings, runs, (string)o["dataset"]!, (string?)o["protocol"], sweepDir, (string?)o["chosen_key"] ?? "", identity);
        }

        /// <summary>The run directory of this model's chosen config at a seed: the sweep's own final run, or a new run.</summary>
        public string RunFor(long seed, SweepSpec neumf, ExperimentContext context, string fallbackDir)
        {
            if (Dataset != neumf.Dataset || !string.Equals(Protocol, neumf.Protocol, StringComparison.OrdinalIgnoreCase))
                throw new ArgumentException($"The {Model} sweep ran on {Dataset}/{Protocol ?? "default"}, NeuMF on {neumf.Dataset}/{neumf.Protocol ?? "default"}.");
            string protocol = (neumf.Protocol ?? Experiment.DefaultProtocol(neumf.Dataset, context)).ToLowerInvariant();
            int negatives = new RunSpec { Dataset = neumf.Dataset, Model = Model, SampledNegatives = neumf.SampledNegatives }.SampledNegativesFor(protocol);
            var differences = RunIdentity.Differences(SweepIdentity?["split"], Experiment.SplitIdentity(neumf.Dataset, protocol, neumf.SplitSeed, negatives, context));
            if (differences.Count > 0)
                throw new ArgumentException($"The {Model} sweep '{Directory}' ran on another split or other data than this NeuMF sweep " +
                                            $"({RunIdentity.Describe(differences)}): pre-train from sweeps of the same data.");
            if (Runs.TryGetValue(seed, out var dir) && File.Exists(Path.Combine(dir, "best.ckpt"))) return dir;
            var (m, t) = Route(Settings);
            var train = ConfigBinder.Apply(neumf.Train with
            {
                Epochs = neumf.EffectiveEpochs, Patience = neumf.EffectivePatience, MinEpochs = neumf.EffectiveMinEpochs, ValidationMetric = neumf.SelectionMetric, Seed = seed,
            }, t);
            var spec = new RunSpec
            {
                Dataset = neumf.Dataset, Protocol = neumf.Protocol, Model = Model, Settings = m, Train = train,
                SplitSeed = neumf.SplitSeed, SampledNegatives = neumf.SampledNegatives, FullRanking = neumf.FullRanking,
            };
            return NcfPretraining.EnsureRun(spec, context, fallbackDir);
        }
    }
}
