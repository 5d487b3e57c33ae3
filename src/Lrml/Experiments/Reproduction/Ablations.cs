using System.Globalization;
using System.Text;
using Lrml.Data;
using Lrml.Evaluation;

namespace Lrml.Experiments.Reproduction;

/// <summary>One ablation: a single LRML setting varied over values, everything else at the preset.</summary>
/// <param name="Name">Short name, e.g. "slots".</param>
/// <param name="Title">Chart and table title.</param>
/// <param name="Setting">The LRML config key varied.</param>
/// <param name="Values">Values in display order.</param>
/// <param name="Numeric">Whether the values are numbers (line chart) or categories (bar chart).</param>
public sealed record AblationSpec(string Name, string Title, string Setting, IReadOnlyList<string> Values, bool Numeric);

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
}

/// <summary>The result of one ablation: one row per value, and a short reading of the effect.</summary>
public sealed record AblationResult(AblationSpec Spec, ResultTable Table, string Reading, IReadOnlyList<StoredRun> Runs);

/// <summary>All ablations of a study.</summary>
public sealed record AblationReport(string Dataset, IReadOnlyList<AblationResult> Results, ResultTable Summary, string OutputDirectory);

/// <summary>
/// The paper's sensitivity and design studies for LRML, each as a one-factor ablation from the dataset's
/// preset: memory slots N, dimension d, margin, distance, relation of the negative pair, norm constraint,
/// and trained versus frozen memory. Every value is trained with several seeds; tables report test
/// HR@10/nDCG@10 mean ± std and the validation score (what a tuner would see).
/// </summary>
public static class Ablations
{
    /// <summary>The ablations and their values for a profile (quick uses fewer values).</summary>
    public static IReadOnlyList<AblationSpec> For(Profile profile)
    {
        bool quick = profile.Name == "quick";
        return
        [
            new("slots", "Memory slots N", "slots", quick ? ["1", "5", "20", "50"] : ["1", "2", "5", "10", "20", "50", "100"], true),
            new("dim", "Embedding dimension d", "dim", quick ? ["16", "50", "100"] : ["10", "25", "50", "100", "200"], true),
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

    /// <summary>Runs (or resumes) the study; writes one table per ablation and a summary under
    /// results/reproduce/ablations/&lt;profile&gt;/&lt;dataset&gt;/.</summary>
    public static AblationReport Run(AblationOptions options, ExperimentContext context)
    {
        string dataset = DefaultDataset(options, context);
        int seeds = options.Seeds ?? options.Profile.Seeds;
        string outDir = Path.Combine(context.ResultsRoot, "reproduce", "ablations", options.Profile.Name, dataset);
        var preset = Presets.Get("lrml", dataset);
        var results = new List<AblationResult>();
        foreach (var spec in For(options.Profile).Where(a => options.Only is null || options.Only.Contains(a.Name)))
        {
            var runsByValue = new List<(string Value, List<StoredRun> Runs)>();
            foreach (var value in spec.Values)
            {
                var settings = preset.Settings.Where(kv => ConfigBinder.Normalise(kv.Key) != ConfigBinder.Normalise(spec.Setting)).ToList();
                settings.Add(new(spec.Setting, value));
                var runs = new List<StoredRun>();
                for (int s = 1; s <= seeds; s++)
                {
                    var runSpec = Presets.Spec(preset with { Settings = settings }, options.Profile, s, options.Threads);
                    string dir = Path.Combine(outDir, "runs", spec.Name, $"{value}-seed{s}");
                    runs.Add(RunStore.RunOrLoad(runSpec, context, dir));
                }
                runsByValue.Add((value, runs));
            }
            var table = Table(spec, runsByValue, preset);
            string reading = Read(spec, table);
            table.Notes.Add(reading);
            table.Save(outDir, spec.Name);
            results.Add(new AblationResult(spec, table, reading, runsByValue.SelectMany(r => r.Runs).ToList()));
        }
        var summary = new ResultTable($"LRML ablations on {dataset} ({options.Profile.Name} profile, {seeds} seeds): reading of each", "ablation", "reading");
        foreach (var r in results) summary.AddRow(("ablation", r.Spec.Title), ("reading", r.Reading));
        Directory.CreateDirectory(outDir);
        summary.Save(outDir, "summary");
        return new AblationReport(dataset, results, summary, outDir);
    }

    private static ResultTable Table(AblationSpec spec, List<(string Value, List<StoredRun> Runs)> rows, Preset preset)
    {
        var t = new ResultTable($"{spec.Title} ({spec.Setting}); other settings: {Describe(preset)}",
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

    private static string Describe(Preset p) => string.Join(", ", p.Settings.Select(kv => $"{kv.Key}={kv.Value}"));

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
