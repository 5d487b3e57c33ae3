using System.Globalization;
using System.Text;
using Lrml.Data;
using Lrml.Evaluation;
using Lrml.Reproduction.Plots;
using Lrml.Models;

using Lrml.Experiments;

namespace Lrml.Reproduction;

/// <summary>One ablation: a single LRML setting varied over values, everything else at the preset.</summary>
/// <param name="Name">Short name, e.g. "slots".</param>
/// <param name="Title">Chart and table title.</param>
/// <param name="Setting">The LRML config key varied.</param>
/// <param name="Values">Values in display order.</param>
/// <param name="Numeric">Whether the values are numbers (line chart) or categories (bar chart).</param>
/// <param name="LogX">Draw the numeric values on a logarithmic axis (values spread over orders of magnitude, e.g. N).</param>
public sealed record AblationSpec(string Name, string Title, string Setting, IReadOnlyList<string> Values, bool Numeric, bool LogX = false)
{
    /// <summary>When set, each value names a bundle of settings applied together over the preset (e.g. a temperature with
    /// a memory learning rate) instead of <see cref="Setting"/>=value; an empty bundle is the preset itself.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<KeyValuePair<string, string>>>? Bundles { get; init; }
}

/// <summary>Options of the ablation study.</summary>
public sealed record AblationOptions
{
    public Profile Profile { get; init; } = Profile.Quick;
    /// <summary>Dataset (null: ml-100k when present, else synthetic in quick; ml-1m when present in full).</summary>
    public string? Dataset { get; init; }
    /// <summary>Ablation names to run (null: all).</summary>
    public IReadOnlyList<string>? Only { get; init; }
    public int? Seeds { get; init; }
    public int Threads { get; init; } = 2;
    /// <summary>Also write PNG copies of the charts when headless Chromium is installed (the HTML is always written).</summary>
    public bool ChartImages { get; init; } = true;
}

/// <summary>The result of one ablation: one row per value, and a short reading of the effect.</summary>
public sealed record AblationResult(AblationSpec Spec, ResultTable Table, string Reading, IReadOnlyList<StoredRun> Runs)
{
    /// <summary>The ablation's chart (see <see cref="Ablations.Chart"/>).</summary>
    public NamedChart Chart() => Ablations.Chart(Spec, Table);
}

/// <summary>All ablations of a study.</summary>
public sealed record AblationReport(string Dataset, IReadOnlyList<AblationResult> Results, ResultTable Summary, string OutputDirectory)
{
    /// <summary>Chart files written next to the tables (HTML, and PNG when Chromium was found).</summary>
    public IReadOnlyList<string> ChartFiles { get; init; } = [];

    /// <summary>Distinct runs that ended without a result (or diverged): not in the means, listed in their tables' notes.</summary>
    public IReadOnlyList<Backends.BackendRun> Missing { get; init; } = [];

    /// <summary>One chart per ablation, in study order, then the memory-usage chart (<see cref="Ablations.UsageChart"/>) and
    /// the per-epoch usage curves (<see cref="Ablations.UsageCurves"/>) when usage was measured.</summary>
    public IReadOnlyList<NamedChart> Charts()
    {
        var charts = Results.Select(r => r.Chart()).ToList();
        if (Ablations.UsageChart(this) is { } usage) charts.Add(usage);
        if (Ablations.UsageCurves(this) is { } curves) charts.Add(curves);
        return charts;
    }

    /// <summary>What the study says, computed from its tables (see <see cref="Ablations.Findings"/>).</summary>
    public Findings Findings() => Ablations.Findings(this);
}

/// <summary>
/// The paper's sensitivity and design studies for LRML, each as a one-factor ablation from the dataset's
/// preset: memory slots N, dimension d, margin, distance, relation of the negative pair, norm constraint,
/// and trained versus frozen memory; then the options that let the memory be used (attention temperature, the
/// memory's init scale and learning rate, WARP rank weighting, and bundles of them). Every value is trained with
/// several seeds; tables report test HR@10/nDCG@10 mean ± std, the validation score (what a tuner would see) and
/// whether the memory is used at the best epoch (<see cref="MemoryUsage"/>: entropy of the attention over ln N, max
/// attention, ‖r‖ against ‖p − q‖, spread of r across pairs, gradient norms reaching K and M).
/// </summary>
public static class Ablations
{
    /// <summary>Epoch cap of the quick study. A study trains about 48 LRML runs with the fused engine (a fraction of a
    /// second per ML-100K epoch), so it can afford the quick profile's 15 epochs; at 5 the tuned learning rate left
    /// every run below popularity, comparing settings before they had learned anything.</summary>
    public const int QuickMaxEpochs = 15;

    /// <summary>The attention entropy over ln N below which a setting counts as using its memory (1 = uniform attention).</summary>
    public const double UsedMemoryEntropyRatio = 0.9;

    /// <summary>The bundles of the "used-memory" ablation: settings that sharpen the attention, alone and with a slow
    /// memory (a sharp attention with the memory at the embeddings' learning rate fits the training pairs within a few
    /// epochs; a slower K keeps it from racing ahead of the embeddings).</summary>
    public static IReadOnlyDictionary<string, IReadOnlyList<KeyValuePair<string, string>>> UsedMemoryBundles { get; } =
        new Dictionary<string, IReadOnlyList<KeyValuePair<string, string>>>
        {
            ["preset"] = [],
            ["tau-0.01"] = [Set(c => c.AttentionTemperature, "0.01")],
            ["tau-0.01+memory-lr-5e-5"] = [Set(c => c.AttentionTemperature, "0.01"), Set(c => c.MemoryLearningRate, "5e-5")],
            ["tau-0.003+memory-lr-5e-5"] = [Set(c => c.AttentionTemperature, "0.003"), Set(c => c.MemoryLearningRate, "5e-5")],
        };

    /// <summary>The table column of an ablation of bundles (a label for each bundle of settings, not a setting itself).</summary>
    public const string BundleColumn = "memory_setting";

    /// <summary>The key of an LRML setting, named through its config record (a renamed property breaks the build).</summary>
    private static string Key(System.Linq.Expressions.Expression<Func<LrmlConfig, object?>> property) => ConfigBinder.Key(property);

    /// <summary>An LRML setting as a key=value pair (values stay setting text: the text is part of a run's identity).</summary>
    private static KeyValuePair<string, string> Set(System.Linq.Expressions.Expression<Func<LrmlConfig, object?>> property, string value) =>
        ConfigBinder.Pair(property, value);

    /// <summary>The profile a study trains with: the quick profile capped at <see cref="QuickMaxEpochs"/> epochs, others as given.</summary>
    public static Profile StudyProfile(Profile profile) =>
        profile.Name == "quick" ? profile with { MaxEpochs = Math.Min(profile.MaxEpochs ?? int.MaxValue, QuickMaxEpochs) } : profile;

    /// <summary>The ablations and their values for a profile (quick uses fewer values).</summary>
    public static IReadOnlyList<AblationSpec> For(Profile profile)
    {
        bool quick = profile.Name == "quick";
        return
        [
            new("slots", "Memory slots N", Key(c => c.Slots), quick ? ["1", "5", "20", "50"] : ["1", "2", "5", "10", "20", "50", "100"], true, LogX: true),
            new("dim", "Embedding dimension d", Key(c => c.Dim), quick ? ["25", "100"] : ["10", "25", "50", "100", "200"], true, LogX: true),
            new("margin", "Hinge margin", Key(c => c.Margin), quick ? ["0.1", "0.5", "1.0"] : ["0.1", "0.25", "0.5", "1.0", "2.0"], true),
            new("distance", "Distance", Key(c => c.Distance), ["sqrt-l2", "squared-l2", "l1"], false),
            new("negative-relation", "Relation of the negative pair", Key(c => c.NegativeRelation), ["reuse", "recompute"], false),
            new("norm", "Norm constraint", Key(c => c.NormConstraint), ["clip", "project", "none"], false),
            new("memory", "Memory trained or frozen", Key(c => c.TrainMemory), ["true", "false"], false),
            new("temperature", "Attention temperature τ (softmax(s·K/τ))", Key(c => c.AttentionTemperature),
                quick ? ["1", "0.1", "0.01"] : ["1", "0.3", "0.1", "0.03", "0.01", "0.003"], true, LogX: true),
            new("memory-init", "Initial scale σ of K and M", Key(c => c.MemoryInitScale), quick ? ["0.1", "1", "3"] : ["0.03", "0.1", "0.3", "1", "3"], true, LogX: true),
            new("memory-lr", "Learning rate of K and M", Key(c => c.MemoryLearningRate), quick ? ["5e-5", "5e-3"] : ["5e-5", "1.5e-4", "1.5e-3", "5e-3", "5e-2"], true, LogX: true),
            new("rank-weighting", "Rank weighting of the hinge terms", Key(c => c.RankWeighting), ["none", "warp"], false),
            new("used-memory", "Settings that make the memory used", BundleColumn, UsedMemoryBundles.Keys.ToList(), false) { Bundles = UsedMemoryBundles },
        ];
    }

    /// <summary>The dataset an ablation study uses by default.</summary>
    public static string DefaultDataset(AblationOptions options, ExperimentContext context)
    {
        if (options.Dataset is not null) return Datasets.Get(options.Dataset).Name;
        if (options.Profile.Name == "full" && Datasets.Locate("ml-1m", context.Data) is not null) return "ml-1m";
        return Datasets.Locate("ml-100k", context.Data) is not null ? "ml-100k" : "synthetic";
    }

    /// <summary>Where a study writes: results/reproduce/ablations/&lt;profile&gt;/&lt;dataset&gt;/.</summary>
    public static string OutputDirectory(AblationOptions options, ExperimentContext context) =>
        Path.Combine(context.ResultsRoot, "reproduce", "ablations", options.Profile.Name, DefaultDataset(options, context));

    /// <summary>The ablations selected by the options, in study order.</summary>
    public static IReadOnlyList<AblationSpec> Selected(AblationOptions options) =>
        For(options.Profile).Where(a => options.Only is null || options.Only.Contains(a.Name)).ToList();

    /// <summary>
    /// The runs of each value of an ablation (per seed). A value whose effective LRML configuration equals the preset's
    /// (e.g. N = 20 in the N study, distance = sqrt-l2 in the distance study) is the preset itself: it maps to the shared
    /// runs under runs/preset/, trained once for every ablation instead of once per ablation.
    /// </summary>
    public static IReadOnlyList<(AblationSpec Spec, string Value, IReadOnlyList<PlannedRun> Runs)> PlanByValue(AblationOptions options, ExperimentContext context) =>
        PlanByValue(Selected(options), options, context);

    private static List<(AblationSpec Spec, string Value, IReadOnlyList<PlannedRun> Runs)> PlanByValue(IEnumerable<AblationSpec> specs,
        AblationOptions options, ExperimentContext context)
    {
        string dataset = DefaultDataset(options, context);
        int seeds = options.Seeds ?? options.Profile.Seeds;
        string outDir = OutputDirectory(options, context);
        var preset = Presets.Get("lrml", dataset);
        var profile = StudyProfile(options.Profile);
        string presetKey = EffectiveConfig(preset.Settings);
        var plan = new List<(AblationSpec, string, IReadOnlyList<PlannedRun>)>();
        foreach (var spec in specs)
            foreach (var value in ValuesOf(spec, preset))
            {
                var changes = spec.Bundles is { } bundles ? bundles[value] : [new(spec.Setting, value)];
                var keys = changes.Select(kv => ConfigBinder.Normalise(kv.Key)).ToHashSet();
                var settings = preset.Settings.Where(kv => !keys.Contains(ConfigBinder.Normalise(kv.Key))).ToList();
                settings.AddRange(changes);
                bool isPreset = EffectiveConfig(settings) == presetKey;
                var runs = new List<PlannedRun>();
                for (int s = 1; s <= seeds; s++)
                    runs.Add(isPreset
                        ? new PlannedRun(Presets.Spec(preset, profile, s, options.Threads), Path.Combine(outDir, "runs", "preset", $"seed{s}"))
                        : new PlannedRun(Presets.Spec(preset with { Settings = settings }, profile, s, options.Threads),
                            Path.Combine(outDir, "runs", spec.Name, $"{value}-seed{s}")));
                plan.Add((spec, value, runs));
            }
        return plan;
    }

    /// <summary>The distinct runs of the study (the preset's runs once), in the order they are trained.</summary>
    public static IReadOnlyList<PlannedRun> Plan(AblationOptions options, ExperimentContext context) =>
        PlanByValue(options, context).SelectMany(v => v.Runs).DistinctBy(r => r.Directory).ToList();

    /// <summary>How long <see cref="Run(AblationOptions, ExperimentContext)"/> is expected to take (see <see cref="DurationEstimator.Estimate"/>).</summary>
    public static DurationEstimate Estimate(AblationOptions options, ExperimentContext context) =>
        DurationEstimator.Estimate($"ablations on {DefaultDataset(options, context)} ({options.Profile.Name} profile)", Plan(options, context), context,
            recorded: StoppingEpochs.Shipped);   // the preset runs it shares with the main table are in the record

    /// <summary>
    /// The values an ablation trains: its grid plus the preset's own value when the grid lacks it (numeric grids keep
    /// ascending order). Without it a study can name a "best" value that is worse than the preset it varies (the quick
    /// margin grid 0.1/0.5/1.0 left out the preset's 0.25, which scored higher than the "best" 0.1).
    /// </summary>
    public static IReadOnlyList<string> ValuesWithPreset(AblationSpec spec, IReadOnlyList<KeyValuePair<string, string>> presetSettings)
    {
        if (spec.Bundles is not null) return spec.Values;   // named bundles of settings, not values of one setting
        string key = ConfigBinder.Normalise(spec.Setting);
        string presetKey = EffectiveConfig(presetSettings);
        var others = presetSettings.Where(kv => ConfigBinder.Normalise(kv.Key) != key).ToList();
        bool IsPreset(string value) => EffectiveConfig([.. others, new(spec.Setting, value)]) == presetKey;
        if (spec.Values.Any(IsPreset)) return spec.Values;
        var node = ConfigBinder.ToJson(ConfigBinder.Apply(new LrmlConfig(), presetSettings).Resolved())   // e.g. memory_learning_rate = learning_rate
            .FirstOrDefault(kv => ConfigBinder.Normalise(kv.Key) == key).Value;
        string? own = node?.GetValueKind() == System.Text.Json.JsonValueKind.String ? node.GetValue<string>() : node?.ToJsonString();
        if (own is null || !IsPreset(own)) return spec.Values;   // the setting has no plain value to add
        var values = spec.Values.Append(own).ToList();
        static double? Number(string v) => double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out double d) ? d : null;
        return values.All(v => Number(v) is not null) ? values.OrderBy(v => Number(v)!.Value).ToList() : values;
    }

    /// <summary>The effective LRML configuration of some settings, as canonical JSON (equal JSON = the same model; settings
    /// that follow another one, such as memory_learning_rate, resolved).</summary>
    private static string EffectiveConfig(IEnumerable<KeyValuePair<string, string>> settings) =>
        ConfigBinder.ToJson(ConfigBinder.Apply(new LrmlConfig(), settings).Resolved()).ToJsonString();

    /// <summary>The values an ablation trains on <paramref name="preset"/> (see <see cref="ValuesWithPreset"/>).</summary>
    public static IReadOnlyList<string> ValuesOf(AblationSpec spec, Preset preset) => ValuesWithPreset(spec, preset.Settings);

    /// <summary>Runs (or resumes) the study; writes one table and one chart per ablation (ablation-&lt;name&gt;.html, and
    /// .png when Chromium is installed), a summary and findings.md under
    /// results/reproduce/ablations/&lt;profile&gt;/&lt;dataset&gt;/.</summary>
    public static AblationReport Run(AblationOptions options, ExperimentContext context) => Run(options, context, null);

    /// <summary>As <see cref="Run(AblationOptions, ExperimentContext)"/>, with the distinct runs trained by <paramref name="backend"/>
    /// (null: here, one after the other; a <see cref="Backends.SlurmBackend"/> runs them as one job array). Runs still queued on the
    /// cluster raise <see cref="Backends.RunsOutstandingException"/>; runs that ended without a result (or diverged) are left out
    /// of their rows and listed in the ablation table's notes and in <see cref="AblationReport.Missing"/>.</summary>
    public static AblationReport Run(AblationOptions options, ExperimentContext context, Backends.IRunBackend? backend)
    {
        string dataset = DefaultDataset(options, context);
        int seeds = options.Seeds ?? options.Profile.Seeds;
        string outDir = OutputDirectory(options, context);
        var (results, ended) = RunSpecs(Selected(options), options, context, backend, save: true);
        var studyProfile = StudyProfile(options.Profile);
        string epochs = studyProfile.MaxEpochs is int cap ? $", at most {cap} epochs" : "";
        var summary = new ResultTable($"LRML ablations on {dataset} ({options.Profile.Name} profile, {seeds} seeds{epochs}): reading of each", "ablation", "reading");
        foreach (var r in results) summary.AddRow(("ablation", r.Spec.Title), ("reading", r.Reading));
        Directory.CreateDirectory(outDir);
        summary.Save(outDir, "summary");
        var report = new AblationReport(dataset, results, summary, outDir)
        {
            Missing = ended.Where(r => r.State is Backends.RunState.Missing or Backends.RunState.Diverged).ToList(),
        };
        UsageTable(report).Save(outDir, "memory-usage");
        report = report with { ChartFiles = ChartFiles.Save(report.Charts(), outDir, options.ChartImages, context.Observer) };
        report.Findings().Save(Path.Combine(outDir, "findings.md"));
        return report;
    }

    /// <summary>
    /// One ablation on a grid of your own: the values of <paramref name="name"/> (e.g. <c>"slots"</c> with
    /// <c>new[] { 1, 5, 10, 20, 50 }</c>, or the bundle names of <c>"used-memory"</c>) each trained with the profile's seeds
    /// on the study's dataset, returned as the ablation's table, chart and reading; the preset's own value is added when the
    /// grid lacks it. Runs are the study's (same run directories): a value the study already trained (or an earlier call
    /// did) is reused, so editing a grid and calling this again trains only the new values. The study's tables, summary and
    /// findings on disk are left as they are (a grid of your own does not overwrite the study's).
    /// </summary>
    public static AblationResult RunGrid<T>(string name, IEnumerable<T> values, AblationOptions options, ExperimentContext context)
    {
        ArgumentNullException.ThrowIfNull(values);
        var spec = For(options.Profile).FirstOrDefault(a => a.Name == name)
                   ?? throw new ArgumentException($"Unknown ablation '{name}'. Known: {string.Join(", ", For(options.Profile).Select(a => a.Name))}.", nameof(name));
        static double? Number(string v) => double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out double d) ? d : null;
        string Text(T v)
        {
            string text = v switch
            {
                bool b => b ? "true" : "false",
                IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
                _ => v?.ToString() ?? throw new ArgumentException("A grid value is null.", nameof(values)),
            };
            // a number equal to a value of the study's grid takes the grid's spelling (1.0 and 1 are one setting; the text is
            // part of a run's identity, so the study's run is reused)
            return Number(text) is double x ? spec.Values.FirstOrDefault(g => Number(g) == x) ?? text : text;
        }
        var grid = values.Select(Text).Distinct().ToList();
        if (grid.Count == 0) throw new ArgumentException($"The grid of '{name}' is empty.", nameof(values));
        if (spec.Bundles is { } bundles && grid.FirstOrDefault(v => !bundles.ContainsKey(v)) is string unknown)
            throw new ArgumentException($"'{unknown}' is not a setting bundle of '{name}'. Known: {string.Join(", ", bundles.Keys)}.", nameof(values));
        foreach (var v in grid)   // a value the model cannot take fails here, before anything trains
            if (spec.Bundles is null) ConfigBinder.Apply(new LrmlConfig(), [new(spec.Setting, v)]).Validate();
        return RunSpecs([spec with { Values = grid }], options, context, null, save: false).Results.Single();
    }

    /// <summary>Trains (or reuses) the runs of <paramref name="specs"/> and builds one table per ablation (saved with <paramref name="save"/>).</summary>
    private static (List<AblationResult> Results, IReadOnlyList<Backends.BackendRun> Ended) RunSpecs(IEnumerable<AblationSpec> specs,
        AblationOptions options, ExperimentContext context, Backends.IRunBackend? backend, bool save)
    {
        string dataset = DefaultDataset(options, context);
        string outDir = OutputDirectory(options, context);
        var preset = Presets.Get("lrml", dataset);
        var byValue = PlanByValue(specs, options, context);
        var distinct = byValue.SelectMany(v => v.Runs).DistinctBy(r => r.Directory).ToList();
        var ended = (backend ?? Backends.LocalBackend.Instance).Run(distinct, context, outDir, $"ablations ({options.Profile.Name})");
        if (ended.Any(r => r.State == Backends.RunState.Queued)) Backends.RunsOutstandingException.ThrowIfAny(ended, "runs of the ablations");
        var done = ended.ToDictionary(r => r.Planned.Directory, StringComparer.Ordinal);
        var results = new List<AblationResult>();
        foreach (var group in byValue.GroupBy(v => v.Spec))
        {
            var spec = group.Key;
            var runsByValue = new List<(string Value, List<StoredRun> Runs)>();
            var missingNotes = new List<string>();
            foreach (var (_, value, planned) in group)
            {
                var runs = new List<StoredRun>();
                foreach (var p in planned)
                {
                    var r = done[p.Directory];
                    if (r.State == Backends.RunState.Finished) runs.Add(r.Run!);
                    else missingNotes.Add($"Missing from the means: {spec.Setting}={value} seed {p.Spec.Train.Seed} " +
                                          $"({(r.State == Backends.RunState.Diverged ? "diverged: " : "")}{r.Message}; run directory {p.Directory}).");
                }
                if (runs.Count > 0) runsByValue.Add((value, runs));
            }
            var table = Table(spec, runsByValue, preset);
            string reading = Read(spec, table);
            table.Notes.Add(reading);
            table.Notes.AddRange(missingNotes);
            if (save)
            {
                Directory.CreateDirectory(outDir);
                table.Save(outDir, spec.Name);
            }
            results.Add(new AblationResult(spec, table, reading, runsByValue.SelectMany(r => r.Runs).ToList()));
        }
        return (results, ended);
    }

    /// <summary>
    /// The chart of one ablation table (as built by <see cref="Run(AblationOptions, ExperimentContext)"/>), named <c>ablation-&lt;name&gt;</c>: test HR@10 and
    /// nDCG@10 against the setting with the standard deviation over seeds as error bars — a line chart for numeric
    /// settings (logarithmic x axis when <see cref="AblationSpec.LogX"/>), grouped bars for categorical ones.
    /// </summary>
    public static NamedChart Chart(AblationSpec spec, ResultTable table)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(table);
        int n = table.Rows.Count;
        double[] Col(string c) => Enumerable.Range(0, n).Select(r => Reproduction.Findings.Num(table, r, c)).ToArray();
        string title = $"{spec.Title} ({spec.Setting}): test HR@10 and nDCG@10, mean ± std over seeds";
        Plotly.NET.GenericChart chart;
        if (spec.Numeric)
        {
            var x = Col(spec.Setting);
            var order = Enumerable.Range(0, n).OrderBy(r => x[r]).ToArray();
            double[] Sorted(double[] v) => order.Select(r => v[r]).ToArray();
            chart = Plots.Charts.Line(
                [new Series("HR@10", Sorted(x), Sorted(Col("HR@10")), Sorted(Col("HR@10 std"))),
                 new Series("nDCG@10", Sorted(x), Sorted(Col("nDCG@10")), Sorted(Col("nDCG@10 std")))],
                spec.Setting, "test metric (sampled candidates)", title, spec.LogX);
        }
        else
        {
            var categories = Enumerable.Range(0, n).Select(r => table.Text(r, spec.Setting)).ToArray();
            chart = Plots.Charts.Bars(categories,
                [new BarSeries("HR@10", Col("HR@10"), Col("HR@10 std")), new BarSeries("nDCG@10", Col("nDCG@10"), Col("nDCG@10 std"))],
                "test metric (sampled candidates)", spec.Setting, title);
        }
        return new NamedChart("ablation-" + spec.Name, chart);
    }

    /// <summary>
    /// Every setting of a study with its memory usage in one table (ablation, setting, H/lnN, max a, |r|, |p-q|, r spread,
    /// grad K, grad M, test nDCG@10 ± std, validation nDCG@10), most used memory first.
    /// </summary>
    public static ResultTable UsageTable(AblationReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        var t = new ResultTable($"Is the memory used? Every setting of the study on {report.Dataset}, by attention entropy / ln N at the best epoch (1 = uniform)",
            "ablation", "setting");
        foreach (var (column, _, format) in UsageColumns) t.AddColumn(column, format);
        t.AddColumn("nDCG@10", "F4").AddColumn("nDCG@10 std", "F4").AddColumn("validation nDCG@10", "F4").AddColumn("used");
        var rows = new List<(double Ratio, (string, object?)[] Cells)>();
        foreach (var r in report.Results)
        {
            if (!r.Table.Columns.Contains("H/lnN")) continue;
            for (int i = 0; i < r.Table.Rows.Count; i++)
            {
                double ratio = Reproduction.Findings.Num(r.Table, i, "H/lnN");
                var cells = new List<(string, object?)> { ("ablation", r.Spec.Name), ("setting", $"{r.Spec.Setting}={r.Table.Text(i, r.Spec.Setting)}") };
                foreach (var (column, _, _) in UsageColumns) cells.Add((column, Reproduction.Findings.Num(r.Table, i, column)));
                foreach (var c in new[] { "nDCG@10", "nDCG@10 std", "validation nDCG@10" }) cells.Add((c, Reproduction.Findings.Num(r.Table, i, c)));
                cells.Add(("used", ratio < UsedMemoryEntropyRatio ? "yes" : double.IsNaN(ratio) ? "" : "no"));
                rows.Add((double.IsNaN(ratio) ? double.MaxValue : ratio, cells.ToArray()));
            }
        }
        foreach (var (_, cells) in rows.OrderBy(r => r.Ratio)) t.AddRow(cells);
        t.Notes.Add($"The preset appears once per ablation. used = entropy / ln N below {UsedMemoryEntropyRatio.ToString(CultureInfo.InvariantCulture)}.");
        return t;
    }

    /// <summary>
    /// <c>ablation-memory-usage</c>: test nDCG@10 against the attention entropy over ln N (1 = uniform, the memory unused)
    /// of every setting of the study, one colour per ablation; null when no run logged its memory usage.
    /// </summary>
    public static NamedChart? UsageChart(AblationReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        var x = new List<double>(); var y = new List<double>(); var labels = new List<string>(); var hover = new List<string>();
        foreach (var r in report.Results)
            for (int i = 0; i < r.Table.Rows.Count; i++)
            {
                double h = Reproduction.Findings.Num(r.Table, i, "H/lnN"), nd = Reproduction.Findings.Num(r.Table, i, "nDCG@10");
                if (double.IsNaN(h) || double.IsNaN(nd)) continue;
                x.Add(h); y.Add(nd); labels.Add(r.Spec.Title);
                hover.Add(FormattableString.Invariant($"{r.Spec.Setting}={r.Table.Text(i, r.Spec.Setting)}: H/lnN {h:0.000}, nDCG@10 {nd:0.0000}"));
            }
        if (x.Count == 0) return null;
        return new NamedChart("ablation-memory-usage", Plots.Charts.Scatter2D(x, y, labels,
            $"Is the memory used, and does it help? Test nDCG@10 against attention entropy / ln N (1 = uniform; used below {UsedMemoryEntropyRatio.ToString(CultureInfo.InvariantCulture)})",
            "attention entropy / ln N at the best epoch", "test nDCG@10 (sampled candidates)", hover));
    }

    /// <summary>
    /// What the study says: the settings ordered by how much they move test nDCG@10 (best minus worst value, against the
    /// seed noise), then each ablation's reading (<see cref="Read"/>).
    /// </summary>
    public static Findings Findings(AblationReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        var points = new List<string>();
        var spreads = report.Results.Where(r => r.Table.Rows.Count > 1).Select(r =>
        {
            var t = r.Table;
            var nd = Enumerable.Range(0, t.Rows.Count).Select(i => Reproduction.Findings.Num(t, i, "nDCG@10")).ToArray();
            var sd = Enumerable.Range(0, t.Rows.Count).Select(i => Reproduction.Findings.Num(t, i, "nDCG@10 std")).Where(v => !double.IsNaN(v)).ToArray();
            return (r.Spec.Title, Spread: nd.Max() - nd.Min(), Noise: sd.Length > 0 ? sd.Max() : double.NaN);
        }).OrderByDescending(x => x.Spread).ToList();
        if (spreads.Count > 0)
            points.Add("Settings ordered by how much they move test nDCG@10 (best minus worst value; largest seed std in brackets): " +
                       string.Join(", ", spreads.Select(x => $"{x.Title} {Reproduction.Findings.F4(x.Spread)} ({Reproduction.Findings.F4(x.Noise)})")) + ".");
        foreach (var r in report.Results) points.Add(r.Reading);
        points.AddRange(MemoryVerdict(report));
        var distinct = report.Results.SelectMany(r => r.Runs).DistinctBy(r => r.Directory).ToList();
        points.Add($"{distinct.Count} distinct runs on {report.Dataset}; the preset configuration is trained once and shared by every ablation.");
        int improving = distinct.Count(r => r.Result.Epochs > 0 && r.Result.BestEpoch == r.Result.Epochs && !r.Result.StoppedEarly);
        if (improving > 0)
            points.Add($"{improving} of {distinct.Count} runs had their best validation score at their last epoch (at most " +
                       $"{distinct.Max(r => r.Result.Epochs)} epochs): they were still improving, so these readings compare early training, " +
                       "not converged models.");
        return new Findings($"What the ablations found on {report.Dataset}", points);
    }

    /// <summary>The memory-usage columns of the ablation tables and the <see cref="MemoryUsage"/> key behind each: means over
    /// seeds at each run's best epoch (the state evaluated on test), read from its epochs.jsonl.</summary>
    public static IReadOnlyList<(string Column, string Key, string Format)> UsageColumns { get; } =
    [
        ("H/lnN", "attention_entropy_ratio", "F4"), ("max a", "attention_max", "F3"), ("|r|", "relation_norm", "F3"),
        ("|p-q|", "user_item_distance", "F3"), ("r spread", "relation_spread", "F4"), ("grad K", "grad_norm_k", "G3"),
        ("grad M", "grad_norm_m", "G3"),
    ];

    /// <summary>The memory usage a run logged at its best epoch (null when its epoch log has none, e.g. runs from before
    /// the kit logged it).</summary>
    public static IReadOnlyDictionary<string, double>? UsageAtBestEpoch(StoredRun run)
    {
        ArgumentNullException.ThrowIfNull(run);
        return Dynamics.ReadEpochs(Path.Combine(run.Directory, "epochs.jsonl")).FirstOrDefault(e => e.Epoch == run.Result.BestEpoch)?.Diagnostics;
    }

    /// <summary>One row of an ablation table with its memory usage, for <see cref="MemoryVerdict"/>.</summary>
    private sealed record UsageRow(AblationResult Result, string Value, bool IsPreset, double Ratio, double Max, double Spread, double Test, double TestStd,
        double Hr, double Validation, int Seeds)
    {
        public string Label => $"{Result.Spec.Setting}={Value}";
    }

    private static List<UsageRow> UsageRows(AblationReport report)
    {
        var rows = new List<UsageRow>();
        foreach (var r in report.Results)
        {
            var t = r.Table;
            if (!t.Columns.Contains("H/lnN")) continue;   // a table without usage columns (built elsewhere): nothing to say
            for (int i = 0; i < t.Rows.Count; i++)
            {
                double N(string c) => Reproduction.Findings.Num(t, i, c);
                rows.Add(new UsageRow(r, t.Text(i, r.Spec.Setting), t.Text(i, "preset") == "yes", N("H/lnN"), N("max a"), N("r spread"),
                    N("nDCG@10"), N("nDCG@10 std"), N("HR@10"), N("validation nDCG@10"), (int)N("seeds")));
            }
        }
        return rows;
    }

    /// <summary>The settings whose memory is used (entropy / ln N below <see cref="UsedMemoryEntropyRatio"/>), the preset excluded.</summary>
    private static List<UsageRow> UsedRows(List<UsageRow> rows) =>
        rows.Where(r => !r.IsPreset && r.Ratio < UsedMemoryEntropyRatio).DistinctBy(r => r.Label).ToList();

    /// <summary>
    /// The best setting of the study whose memory is used, chosen by validation nDCG@10 (never test), as the LRML settings
    /// that change the preset (a bundle's settings, or setting=value): what <see cref="Relations"/> should analyse to see
    /// what a used memory learns. Null when no setting made the memory used.
    /// </summary>
    public static IReadOnlyList<KeyValuePair<string, string>>? BestUsedSettings(AblationReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        var best = UsedRows(UsageRows(report)).OrderByDescending(r => r.Validation).FirstOrDefault();
        if (best is null) return null;
        var spec = best.Result.Spec;
        return spec.Bundles is { } bundles ? bundles[best.Value] : [new(spec.Setting, best.Value)];
    }

    /// <summary>
    /// <c>ablation-memory-usage-curves</c>: the per-epoch memory usage (<see cref="Plots.Charts.MemoryUsageCurves"/>) of the
    /// preset's first seed and of the first seed of the best used setting (by validation) and of the most used one; null
    /// when the runs logged no usage.
    /// </summary>
    public static NamedChart? UsageCurves(AblationReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        var rows = UsageRows(report);
        var preset = rows.FirstOrDefault(r => r.IsPreset && !double.IsNaN(r.Ratio));
        if (preset is null) return null;
        var picks = new List<UsageRow> { preset };
        var used = UsedRows(rows);
        if (used.Count > 0)
        {
            picks.Add(used.OrderByDescending(r => r.Validation).First());
            picks.Add(used.OrderBy(r => r.Ratio).First());
        }
        var runs = new List<(string, IReadOnlyList<Training.EpochRecord>)>();
        foreach (var pick in picks.DistinctBy(p => p.Label))
        {
            var run = pick.IsPreset
                ? pick.Result.Runs.First(r => IsPresetRun(r.Directory))
                : pick.Result.Runs.FirstOrDefault(r => Path.GetFileName(r.Directory).StartsWith(pick.Value + "-seed", StringComparison.Ordinal));
            if (run is null) continue;
            runs.Add((pick.IsPreset ? "preset" : pick.Label, Dynamics.ReadEpochs(Path.Combine(run.Directory, "epochs.jsonl"))));
        }
        return new NamedChart("ablation-memory-usage-curves", Plots.Charts.MemoryUsageCurves(runs,
            "Is the memory used? Per epoch, the preset and the best used setting (first seed)"));
    }

    /// <summary>
    /// Whether the memory is used, and whether a used memory helps, computed from the tables: the preset's usage; the
    /// settings whose attention entropy over ln N is below <see cref="UsedMemoryEntropyRatio"/>; and the best of those by
    /// VALIDATION nDCG@10 against the preset on test nDCG@10 — "helps" or "does not help" only when the difference exceeds
    /// twice the pooled seed std, else "no measurable difference".
    /// </summary>
    public static IReadOnlyList<string> MemoryVerdict(AblationReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        var rows = UsageRows(report);
        var points = new List<string>();
        var preset = rows.FirstOrDefault(r => r.IsPreset && !double.IsNaN(r.Ratio));
        if (preset is null)
        {
            if (rows.Count > 0) points.Add("Memory usage was not measured for the preset runs (their epoch logs have no diagnostics): retrain them to see whether the memory is used.");
            return points;
        }
        string F(double v, string f = "0.0000") => v.ToString(f, CultureInfo.InvariantCulture);
        string usage = preset.Ratio >= UsedMemoryEntropyRatio ? "**not used**" : "used";
        points.Add($"Memory usage of the preset at its best epoch: attention entropy / ln N = {F(preset.Ratio)}, mean max attention {F(preset.Max, "0.000")}, " +
                   $"spread of r across pairs {F(preset.Spread)}: the memory is {usage} (threshold {F(UsedMemoryEntropyRatio, "0.0#")}).");
        var used = UsedRows(rows);
        if (used.Count == 0)
        {
            points.Add($"No setting of the study made the memory used (entropy / ln N below {F(UsedMemoryEntropyRatio, "0.0#")}; the lowest was " +
                       $"{F(rows.Where(r => !double.IsNaN(r.Ratio)).Min(r => r.Ratio))}): the study cannot say whether a used memory helps.");
            return points;
        }
        points.Add("Settings whose memory is used (entropy / ln N, test nDCG@10): " +
                   string.Join("; ", used.OrderBy(r => r.Ratio).Select(r => $"{r.Label} ({F(r.Ratio, "0.000")}, {Reproduction.Findings.F4(r.Test)})")) + ".");
        var best = used.OrderByDescending(r => r.Validation).First();
        double diff = best.Test - preset.Test;
        double pooled = Math.Sqrt((best.TestStd * best.TestStd + preset.TestStd * preset.TestStd) / 2);
        string head = $"The best of them by validation nDCG@10, {best.Label} (entropy / ln N {F(best.Ratio, "0.000")}), has test nDCG@10 " +
                      $"{Reproduction.Findings.F4(best.Test)} ± {Reproduction.Findings.F4(best.TestStd)} (HR@10 {Reproduction.Findings.F4(best.Hr)}) against the preset's " +
                      $"{Reproduction.Findings.F4(preset.Test)} ± {Reproduction.Findings.F4(preset.TestStd)} (HR@10 {Reproduction.Findings.F4(preset.Hr)}), " +
                      $"a difference of {(diff >= 0 ? "+" : "−")}{F(Math.Abs(diff))} ({Reproduction.Findings.Percent(100 * diff / preset.Test)}).";
        if (Math.Min(best.Seeds, preset.Seeds) < 2) points.Add(head + " One seed: the difference is not checked against seed noise.");
        else if (diff > 2 * pooled) points.Add(head + $" **A used memory helps** by {F(diff)} nDCG@10 (more than twice the pooled seed std {F(pooled)}).");
        else if (-diff > 2 * pooled) points.Add(head + $" **A used memory does not help**: it is worse by {F(-diff)} nDCG@10 (more than twice the pooled seed std {F(pooled)}).");
        else points.Add(head + $" **A used memory does not help measurably**: the difference is within twice the pooled seed std ({F(pooled)}).");
        var settings = best.Result.Spec.Bundles is { } bundles ? bundles[best.Value] : [new(best.Result.Spec.Setting, best.Value)];
        points.Add($"What this used memory learned: `lrml reproduce relations --datasets {report.Dataset} " +
                   string.Join(" ", settings.Select(kv => $"--set {kv.Key}={kv.Value}")) + "` (the relation probes on it).");
        return points;
    }

    private static ResultTable Table(AblationSpec spec, List<(string Value, List<StoredRun> Runs)> rows, Preset preset)
    {
        var t = new ResultTable($"{spec.Title} ({spec.Setting}); other settings: {Describe(preset, except: spec.Setting)}",
            spec.Setting, "HR@10", "HR@10 std", "nDCG@10", "nDCG@10 std", "validation nDCG@10", "full nDCG@10", "epochs", "s/epoch", "seeds");
        foreach (var c in new[] { "HR@10", "HR@10 std", "nDCG@10", "nDCG@10 std", "validation nDCG@10", "full nDCG@10" }) t.Format(c, "F4");
        t.Format("epochs", "F1").Format("s/epoch", "F2");
        foreach (var (column, _, format) in UsageColumns) t.AddColumn(column, format);
        t.AddColumn("preset");
        foreach (var (value, runs) in rows)
        {
            double[] M(string key) => runs.Select(r => r.Result.Metrics.GetValueOrDefault(key, double.NaN)).ToArray();
            double Std(double[] x) => x.Length > 1 ? Statistics.SampleStd(x) : 0;
            var hr = M("HR@10"); var nd = M("nDCG@10");
            var full = runs.Select(r => r.Result.Metrics.GetValueOrDefault("full/nDCG@10", r.Result.Metrics.GetValueOrDefault("nDCG@10"))).ToArray();
            object v = spec.Numeric ? double.Parse(value, CultureInfo.InvariantCulture) : value;
            var usage = runs.Select(UsageAtBestEpoch).ToList();
            var cells = new List<(string, object?)>
            {
                (spec.Setting, v), ("HR@10", hr.Average()), ("HR@10 std", Std(hr)), ("nDCG@10", nd.Average()), ("nDCG@10 std", Std(nd)),
                ("validation nDCG@10", runs.Average(r => r.Result.ValidationMetrics.GetValueOrDefault("nDCG@10", double.NaN))),
                ("full nDCG@10", full.Average()), ("epochs", runs.Average(r => (double)r.Result.Epochs)),
                ("s/epoch", runs.Average(r => r.Result.SecondsPerEpoch)), ("seeds", runs.Count),
                ("preset", runs.All(r => IsPresetRun(r.Directory)) ? "yes" : ""),
            };
            foreach (var (column, key, _) in UsageColumns)
                cells.Add((column, usage.Average(u => u is not null && u.TryGetValue(key, out double x) ? x : double.NaN)));
            t.AddRow(cells.ToArray());
        }
        if (t.Rows.Any(r => r["H/lnN"] is double h && double.IsNaN(h)))
            t.Notes.Add("Memory usage is empty for runs whose epoch log has no diagnostics (trained before the kit logged them, or N = 1).");
        t.Notes.Add($"Memory usage at each run's best epoch, mean over seeds: H/lnN = attention entropy / ln N (1 = uniform attention; " +
                    $"the memory counts as used below {UsedMemoryEntropyRatio.ToString(CultureInfo.InvariantCulture)}), max a = mean largest attention " +
                    "(uniform: 1/N), |r| and |p-q| = mean norms of the relation and of p − q, r spread = std of r across pairs (mean over " +
                    "dimensions; 0 = one constant vector), grad K / grad M = mean per-step norm of the hinge gradient reaching K and M in that epoch.");
        return t;
    }

    /// <summary>Whether a run directory is one of the shared preset runs (runs/preset/seedN).</summary>
    private static bool IsPresetRun(string directory) =>
        string.Equals(Path.GetFileName(Path.GetDirectoryName(Path.GetFullPath(directory).TrimEnd(Path.DirectorySeparatorChar))), "preset", StringComparison.Ordinal);

    private static string Describe(Preset p, string except) => string.Join(", ", p.Settings
        .Where(kv => ConfigBinder.Normalise(kv.Key) != ConfigBinder.Normalise(except)).Select(kv => $"{kv.Key}={kv.Value}"));

    /// <summary>A one-paragraph reading of an ablation table: the best value, the spread, and which
    /// differences exceed the seed noise (difference of means larger than twice the pooled std).</summary>
    public static string Read(AblationSpec spec, ResultTable t)
    {
        int n = t.Rows.Count;
        if (n == 0) return "No runs.";
        double Val(int r, string c) => Convert.ToDouble(t.Get(r, c) ?? double.NaN, CultureInfo.InvariantCulture);
        int best = Enumerable.Range(0, n).OrderByDescending(r => Val(r, "nDCG@10")).First();
        int worst = Enumerable.Range(0, n).OrderBy(r => Val(r, "nDCG@10")).First();
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"{spec.Title}: best {spec.Setting}={t.Text(best, spec.Setting)} ");
        sb.Append(CultureInfo.InvariantCulture, $"(test nDCG@10 {Val(best, "nDCG@10"):F4} ± {Val(best, "nDCG@10 std"):F4}, HR@10 {Val(best, "HR@10"):F4}); ");
        sb.Append(CultureInfo.InvariantCulture, $"worst {t.Text(worst, spec.Setting)} ({Val(worst, "nDCG@10"):F4}), a spread of {Val(best, "nDCG@10") - Val(worst, "nDCG@10"):F4}. ");
        var clear = new List<string>();
        for (int r = 0; r < n; r++)
        {
            if (r == best) continue;
            double diff = Val(best, "nDCG@10") - Val(r, "nDCG@10");
            double pooled = Math.Sqrt((Math.Pow(Val(best, "nDCG@10 std"), 2) + Math.Pow(Val(r, "nDCG@10 std"), 2)) / 2);
            if (diff > 2 * pooled && pooled > 0) clear.Add(t.Text(r, spec.Setting));
        }
        int seeds = Convert.ToInt32(t.Get(0, "seeds") ?? 1, CultureInfo.InvariantCulture);
        if (seeds < 2) sb.Append("One seed per value: differences are not checked against seed noise.");
        else if (clear.Count == 0) sb.Append("No value is clearly worse than the best (every difference is within twice the seed std).");
        else sb.Append($"Clearly worse than the best (difference > 2 × pooled seed std): {string.Join(", ", clear)}.");
        int bestVal = Enumerable.Range(0, n).OrderByDescending(r => Val(r, "validation nDCG@10")).First();
        if (bestVal != best) sb.Append(CultureInfo.InvariantCulture, $" Validation would pick {t.Text(bestVal, spec.Setting)} instead.");
        return sb.ToString();
    }
}
