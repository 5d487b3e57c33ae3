using System.Globalization;
using System.Text;
using Lrml.Data;
using Lrml.Evaluation;
using Lrml.Experiments.Plots;
using Lrml.Models;

namespace Lrml.Experiments.Reproduction;

/// <summary>One ablation: a single LRML setting varied over values, everything else at the preset.</summary>
/// <param name="Name">Short name, e.g. "slots".</param>
/// <param name="Title">Chart and table title.</param>
/// <param name="Setting">The LRML config key varied.</param>
/// <param name="Values">Values in display order.</param>
/// <param name="Numeric">Whether the values are numbers (line chart) or categories (bar chart).</param>
/// <param name="LogX">Draw the numeric values on a logarithmic axis (values spread over orders of magnitude, e.g. N).</param>
public sealed record AblationSpec(string Name, string Title, string Setting, IReadOnlyList<string> Values, bool Numeric, bool LogX = false);

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

    /// <summary>One chart per ablation, in study order.</summary>
    public IReadOnlyList<NamedChart> Charts() => Results.Select(r => r.Chart()).ToList();

    /// <summary>What the study says, computed from its tables (see <see cref="Ablations.Findings"/>).</summary>
    public Findings Findings() => Ablations.Findings(this);
}

/// <summary>
/// The paper's sensitivity and design studies for LRML, each as a one-factor ablation from the dataset's
/// preset: memory slots N, dimension d, margin, distance, relation of the negative pair, norm constraint,
/// and trained versus frozen memory. Every value is trained with several seeds; tables report test
/// HR@10/nDCG@10 mean ± std and the validation score (what a tuner would see).
/// </summary>
public static class Ablations
{
    /// <summary>Epoch cap of the quick study. A study trains about 28 LRML runs with the fused engine (a fraction of a
    /// second per ML-100K epoch), so it can afford the quick profile's 15 epochs; at 5 the tuned learning rate left
    /// every run below popularity, comparing settings before they had learned anything.</summary>
    public const int QuickMaxEpochs = 15;

    /// <summary>The profile a study trains with: the quick profile capped at <see cref="QuickMaxEpochs"/> epochs, others as given.</summary>
    public static Profile StudyProfile(Profile profile) =>
        profile.Name == "quick" ? profile with { MaxEpochs = Math.Min(profile.MaxEpochs ?? int.MaxValue, QuickMaxEpochs) } : profile;

    /// <summary>The ablations and their values for a profile (quick uses fewer values).</summary>
    public static IReadOnlyList<AblationSpec> For(Profile profile)
    {
        bool quick = profile.Name == "quick";
        return
        [
            new("slots", "Memory slots N", "slots", quick ? ["1", "5", "20", "50"] : ["1", "2", "5", "10", "20", "50", "100"], true, LogX: true),
            new("dim", "Embedding dimension d", "dim", quick ? ["25", "100"] : ["10", "25", "50", "100", "200"], true, LogX: true),
            new("margin", "Hinge margin", "margin", quick ? ["0.1", "0.5", "1.0"] : ["0.1", "0.25", "0.5", "1.0", "2.0"], true),
            new("distance", "Distance", "distance", ["sqrt-l2", "squared-l2", "l1"], false),
            new("negative-relation", "Relation of the negative pair", "negative_relation", ["reuse", "recompute"], false),
            new("norm", "Norm constraint", "norm_constraint", ["clip", "project", "none"], false),
            new("memory", "Memory trained or frozen", "train_memory", ["true", "false"], false),
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
    public static IReadOnlyList<(AblationSpec Spec, string Value, IReadOnlyList<PlannedRun> Runs)> PlanByValue(AblationOptions options, ExperimentContext context)
    {
        string dataset = DefaultDataset(options, context);
        int seeds = options.Seeds ?? options.Profile.Seeds;
        string outDir = OutputDirectory(options, context);
        var preset = Presets.Get("lrml", dataset);
        var profile = StudyProfile(options.Profile);
        string presetKey = EffectiveConfig(preset.Settings);
        var plan = new List<(AblationSpec, string, IReadOnlyList<PlannedRun>)>();
        foreach (var spec in Selected(options))
            foreach (var value in ValuesWithPreset(spec, preset.Settings))
            {
                var settings = preset.Settings.Where(kv => ConfigBinder.Normalise(kv.Key) != ConfigBinder.Normalise(spec.Setting)).ToList();
                settings.Add(new(spec.Setting, value));
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
        DurationEstimator.Estimate($"ablations on {DefaultDataset(options, context)} ({options.Profile.Name} profile)", Plan(options, context), context);

    /// <summary>The effective LRML configuration of some settings, as canonical JSON (equal JSON = the same model).</summary>
    /// <summary>
    /// The values an ablation trains: its grid plus the preset's own value when the grid lacks it (numeric grids keep
    /// ascending order). Without it a study can name a "best" value that is worse than the preset it varies (the quick
    /// margin grid 0.1/0.5/1.0 left out the preset's 0.25, which scored higher than the "best" 0.1).
    /// </summary>
    public static IReadOnlyList<string> ValuesWithPreset(AblationSpec spec, IReadOnlyList<KeyValuePair<string, string>> presetSettings)
    {
        string key = ConfigBinder.Normalise(spec.Setting);
        string presetKey = EffectiveConfig(presetSettings);
        var others = presetSettings.Where(kv => ConfigBinder.Normalise(kv.Key) != key).ToList();
        bool IsPreset(string value) => EffectiveConfig([.. others, new(spec.Setting, value)]) == presetKey;
        if (spec.Values.Any(IsPreset)) return spec.Values;
        var node = ConfigBinder.ToJson(ConfigBinder.Apply(new LrmlConfig(), presetSettings))
            .FirstOrDefault(kv => ConfigBinder.Normalise(kv.Key) == key).Value;
        string? own = node?.GetValueKind() == System.Text.Json.JsonValueKind.String ? node.GetValue<string>() : node?.ToJsonString();
        if (own is null || !IsPreset(own)) return spec.Values;   // the setting has no plain value to add
        var values = spec.Values.Append(own).ToList();
        static double? Number(string v) => double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out double d) ? d : null;
        return values.All(v => Number(v) is not null) ? values.OrderBy(v => Number(v)!.Value).ToList() : values;
    }

    private static string EffectiveConfig(IEnumerable<KeyValuePair<string, string>> settings) =>
        ConfigBinder.ToJson(ConfigBinder.Apply(new LrmlConfig(), settings)).ToJsonString();

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
        var preset = Presets.Get("lrml", dataset);
        var byValue = PlanByValue(options, context);
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
            Directory.CreateDirectory(outDir);
            table.Save(outDir, spec.Name);
            results.Add(new AblationResult(spec, table, reading, runsByValue.SelectMany(r => r.Runs).ToList()));
        }
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
        report = report with { ChartFiles = ChartFiles.Save(report.Charts(), outDir, options.ChartImages, context.Observer) };
        report.Findings().Save(Path.Combine(outDir, "findings.md"));
        return report;
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
        var distinct = report.Results.SelectMany(r => r.Runs).DistinctBy(r => r.Directory).ToList();
        points.Add($"{distinct.Count} distinct runs on {report.Dataset}; the preset configuration is trained once and shared by every ablation.");
        int improving = distinct.Count(r => r.Result.Epochs > 0 && r.Result.BestEpoch == r.Result.Epochs && !r.Result.StoppedEarly);
        if (improving > 0)
            points.Add($"{improving} of {distinct.Count} runs had their best validation score at their last epoch (at most " +
                       $"{distinct.Max(r => r.Result.Epochs)} epochs): they were still improving, so these readings compare early training, " +
                       "not converged models.");
        return new Findings($"What the ablations found on {report.Dataset}", points);
    }

    private static ResultTable Table(AblationSpec spec, List<(string Value, List<StoredRun> Runs)> rows, Preset preset)
    {
        var t = new ResultTable($"{spec.Title} ({spec.Setting}); other settings: {Describe(preset, except: spec.Setting)}",
            spec.Setting, "HR@10", "HR@10 std", "nDCG@10", "nDCG@10 std", "validation nDCG@10", "full nDCG@10", "epochs", "s/epoch", "seeds");
        foreach (var c in new[] { "HR@10", "HR@10 std", "nDCG@10", "nDCG@10 std", "validation nDCG@10", "full nDCG@10" }) t.Format(c, "F4");
        t.Format("epochs", "F1").Format("s/epoch", "F2");
        foreach (var (value, runs) in rows)
        {
            double[] M(string key) => runs.Select(r => r.Result.Metrics.GetValueOrDefault(key, double.NaN)).ToArray();
            double Std(double[] x) => x.Length > 1 ? Statistics.SampleStd(x) : 0;
            var hr = M("HR@10"); var nd = M("nDCG@10");
            var full = runs.Select(r => r.Result.Metrics.GetValueOrDefault("full/nDCG@10", r.Result.Metrics.GetValueOrDefault("nDCG@10"))).ToArray();
            object v = spec.Numeric ? double.Parse(value, CultureInfo.InvariantCulture) : value;
            t.AddRow((spec.Setting, v), ("HR@10", hr.Average()), ("HR@10 std", Std(hr)), ("nDCG@10", nd.Average()), ("nDCG@10 std", Std(nd)),
                ("validation nDCG@10", runs.Average(r => r.Result.ValidationMetrics.GetValueOrDefault("nDCG@10", double.NaN))),
                ("full nDCG@10", full.Average()), ("epochs", runs.Average(r => (double)r.Result.Epochs)),
                ("s/epoch", runs.Average(r => r.Result.SecondsPerEpoch)), ("seeds", runs.Count));
        }
        return t;
    }

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
