using System.Globalization;
using Lrml.Data;
using Lrml.Evaluation;

namespace Lrml.Experiments.Reproduction;

/// <summary>Options of the main-results reproduction.</summary>
public sealed record MainTableOptions
{
    public Profile Profile { get; init; } = Profile.Quick;
    /// <summary>Datasets to run (null: every paper dataset present, synthetic when none is).</summary>
    public IReadOnlyList<string>? Datasets { get; init; }
    /// <summary>Models to run (null: every model with a preset).</summary>
    public IReadOnlyList<string>? Models { get; init; }
    /// <summary>Seeds per model (null: the profile's).</summary>
    public int? Seeds { get; init; }
    public int Threads { get; init; } = 2;
    /// <summary>The metric-learning baselines LRML's headline improvement is measured against.</summary>
    public IReadOnlyList<string> MetricLearningBaselines { get; init; } = ["cml", "transcf"];
}

/// <summary>The main-results table, the headline improvement and the paired tests, with every run behind them.</summary>
public sealed class MainTableReport
{
    public required ResultTable Table { get; init; }
    public required ResultTable Headline { get; init; }
    public required ResultTable Significance { get; init; }
    public required IReadOnlyList<StoredRun> Runs { get; init; }
    public required string OutputDirectory { get; init; }
}

/// <summary>
/// Reproduces the paper's comparison: LRML against popularity, BPR-MF, CML (and the NCF baselines when
/// registered) on every dataset present, HR@10 and nDCG@10 under the paper-period protocol (leave-one-out
/// with sampled negatives; the public NCF split on ML-1M), mean ± std over seeds, the relative improvement
/// of LRML over the best metric-learning baseline (the paper's headline claim), paired tests over per-user
/// values, full-ranking metrics beside the sampled ones, and the paper's known numbers in their own columns.
/// </summary>
public static class MainTable
{
    /// <summary>Datasets of the paper's comparison, in table order (ML-100K stands in for the paper's smaller sets).</summary>
    public static readonly string[] PaperDatasets = ["ml-1m", "ml-100k", "ml-20m", "netflix"];

    /// <summary>The datasets a run would use: the requested ones, else the paper datasets present (within the
    /// profile's size limit), else the embedded synthetic set.</summary>
    public static IReadOnlyList<string> DatasetsFor(MainTableOptions options, ExperimentContext context)
    {
        if (options.Datasets is { Count: > 0 } requested) return requested.Select(d => Datasets.Get(d).Name).ToArray();
        var present = new List<string>();
        foreach (var d in PaperDatasets)
        {
            if (Datasets.Locate(d, context.Data) is null) continue;
            if (options.Profile.MaxInteractions < long.MaxValue && ApproxInteractions(d) > options.Profile.MaxInteractions)
            {
                context.Observer.Message($"Skipping {d} in the {options.Profile.Name} profile (too large); name it with --datasets to include it.");
                continue;
            }
            present.Add(d);
        }
        if (present.Count == 0)
        {
            context.Observer.Message("No paper dataset found under " + context.Data.Root + ": using the embedded synthetic dataset. " +
                                     Datasets.FetchHint("ml-1m", context.Data));
            present.Add("synthetic");
        }
        return present;
    }

    private static long ApproxInteractions(string dataset) => dataset switch
    {
        "ml-100k" => 100_000, "ml-1m" => 1_000_209, "ml-20m" => 20_000_263, "netflix" => 100_480_507, _ => 0,
    };

    /// <summary>The models a run would use (registered models with a preset, in preset order).</summary>
    public static IReadOnlyList<string> ModelsFor(MainTableOptions options) =>
        (options.Models ?? Presets.Models).Where(m => ModelRegistry.All.Any(e => e.Name == m)).ToArray();

    /// <summary>Runs (or resumes) the reproduction and writes main-table.{csv,md}, headline.{csv,md},
    /// significance.{csv,md} under results/reproduce/main-table/&lt;profile&gt;/.</summary>
    public static MainTableReport Run(MainTableOptions options, ExperimentContext context)
    {
        var profile = options.Profile;
        int seeds = options.Seeds ?? profile.Seeds;
        string outDir = Path.Combine(context.ResultsRoot, "reproduce", "main-table", profile.Name);
        var datasets = DatasetsFor(options, context);
        var models = ModelsFor(options);
        var runs = new List<StoredRun>();
        var byCell = new Dictionary<(string Dataset, string Model), List<StoredRun>>();
        foreach (var dataset in datasets)
            foreach (var model in models)
            {
                var preset = Presets.Get(model, dataset);
                var list = byCell[(dataset, model)] = new List<StoredRun>();
                int modelSeeds = model == "pop" ? 1 : seeds; // popularity is deterministic
                for (int s = 1; s <= modelSeeds; s++)
                {
                    var spec = Presets.Spec(preset, profile, s, options.Threads);
                    string dir = Path.Combine(outDir, "runs", dataset, $"{model}-seed{s}");
                    var run = RunStore.RunOrLoad(spec, context, dir);
                    list.Add(run);
                    runs.Add(run);
                }
            }

        var table = BuildTable(datasets, models, byCell, seeds, profile);
        var headline = BuildHeadline(datasets, byCell, options.MetricLearningBaselines);
        var significance = BuildSignificance(datasets, models, byCell);
        Directory.CreateDirectory(outDir);
        table.Save(outDir, "main-table");
        headline.Save(outDir, "headline");
        significance.Save(outDir, "significance");
        return new MainTableReport { Table = table, Headline = headline, Significance = significance, Runs = runs, OutputDirectory = outDir };
    }

    private static ResultTable BuildTable(IReadOnlyList<string> datasets, IReadOnlyList<string> models,
        Dictionary<(string, string), List<StoredRun>> byCell, int seeds, Profile profile)
    {
        var t = new ResultTable($"Main results ({profile.Name} profile): test metrics, mean ± std over seeds",
            "dataset", "protocol", "model", "seeds");
        foreach (var c in new[] { "HR@10", "HR@10 std", "nDCG@10", "nDCG@10 std", "full Recall@10", "full nDCG@10", "paper HR@10", "paper nDCG@10", "s/epoch" })
            t.AddColumn(c, c == "s/epoch" ? "F2" : "F4");
        foreach (var dataset in datasets)
            foreach (var model in models)
            {
                var list = byCell[(dataset, model)];
                var first = list[0].Result;
                string display = first.Model;
                (double mean, double std) Stat(string metric)
                {
                    var xs = list.Select(r => r.Result.Metrics.TryGetValue(metric, out double v) ? v : double.NaN).Where(v => !double.IsNaN(v)).ToArray();
                    if (xs.Length == 0) return (double.NaN, double.NaN);
                    return (xs.Average(), xs.Length > 1 ? Statistics.SampleStd(xs) : 0);
                }
                bool sampled = first.Metrics.ContainsKey("full/nDCG@10");
                var hr = Stat("HR@10");
                var nd = Stat("nDCG@10");
                var fr = Stat(sampled ? "full/Recall@10" : "Recall@10");
                var fn = Stat(sampled ? "full/nDCG@10" : "nDCG@10");
                var paperHr = PaperNumbers.Get(dataset, display, "HR@10");
                var paperNd = PaperNumbers.Get(dataset, display, "nDCG@10");
                t.AddRow(("dataset", dataset), ("protocol", first.Protocol), ("model", display), ("seeds", list.Count),
                    ("HR@10", hr.mean), ("HR@10 std", hr.std), ("nDCG@10", nd.mean), ("nDCG@10 std", nd.std),
                    ("full Recall@10", fr.mean), ("full nDCG@10", fn.mean),
                    ("paper HR@10", paperHr?.Value ?? double.NaN), ("paper nDCG@10", paperNd?.Value ?? double.NaN),
                    ("epochs", list.Average(r => r.Result.Epochs)), ("s/epoch", list.Average(r => r.Result.SecondsPerEpoch)));
            }
        t.Format("epochs", "F1");
        t.Notes.Add("HR@10 and nDCG@10: the held-out item ranked among sampled candidates (the published 99 NCF negatives on ML-1M, " +
                    "100 frozen uniform negatives elsewhere). Ties count against the model (pessimistic rank). " +
                    "full Recall@10 / full nDCG@10: ranked among every item the user has not interacted with in training/validation. " +
                    "Sampled metrics can reorder models (Krichene & Rendle, KDD 2020), hence both.");
        t.Notes.Add("paper columns: only the cells of the paper's tables that are known (data file paper-numbers.csv); empty = unknown. " +
                    "The paper's candidate set probably differs from NCF's (its nDCG/HR ratio ≈ 0.75 vs ≈ 0.6 here), so compare shapes, not decimals.");
        return t;
    }

    private static ResultTable BuildHeadline(IReadOnlyList<string> datasets, Dictionary<(string, string), List<StoredRun>> byCell,
        IReadOnlyList<string> baselines)
    {
        var t = new ResultTable("LRML vs the best metric-learning baseline (the paper's headline: +6–7.5% on the large datasets)",
            "dataset", "metric", "LRML", "best baseline", "baseline", "relative improvement %", "paired t-test p", "mean per-user diff");
        foreach (var dataset in datasets)
        {
            if (!byCell.TryGetValue((dataset, "lrml"), out var lrml)) continue;
            foreach (var metric in new[] { "HR@10", "nDCG@10" })
            {
                double l = lrml.Average(r => r.Result.Metrics.GetValueOrDefault(metric, double.NaN));
                string? bestName = null;
                double best = double.NegativeInfinity;
                foreach (var b in baselines)
                    if (byCell.TryGetValue((dataset, b), out var runs))
                    {
                        double v = runs.Average(r => r.Result.Metrics.GetValueOrDefault(metric, double.NaN));
                        if (v > best) { best = v; bestName = runs[0].Result.Model; }
                    }
                if (bestName is null) continue;
                var (p, diff) = PairedP(lrml, byCell.First(kv => kv.Key.Item1 == dataset && kv.Value[0].Result.Model == bestName).Value, metric);
                t.AddRow(("dataset", dataset), ("metric", metric), ("LRML", l), ("best baseline", bestName), ("baseline", best),
                    ("relative improvement %", 100 * (l - best) / best), ("paired t-test p", p), ("mean per-user diff", diff));
            }
        }
        t.Format("LRML", "F4").Format("baseline", "F4").Format("relative improvement %", "F2").Format("paired t-test p", "G3").Format("mean per-user diff", "F4");
        t.Notes.Add("Per-user values are averaged over seeds before the paired test (users evaluated in every run).");
        return t;
    }

    private static ResultTable BuildSignificance(IReadOnlyList<string> datasets, IReadOnlyList<string> models,
        Dictionary<(string, string), List<StoredRun>> byCell)
    {
        var t = new ResultTable("Paired tests over per-user nDCG@10: LRML minus each model");
        foreach (var dataset in datasets)
        {
            if (!byCell.TryGetValue((dataset, "lrml"), out var lrml)) continue;
            foreach (var m in models.Where(m => m != "lrml"))
            {
                var other = byCell[(dataset, m)];
                var (a, b) = Aligned(lrml, other, "nDCG@10");
                if (a.Length < 2) continue;
                var tt = Statistics.PairedTTest(a, b);
                var w = Statistics.WilcoxonSignedRank(a, b);
                t.AddRow(("dataset", dataset), ("versus", other[0].Result.Model), ("users", a.Length),
                    ("mean diff", tt.MeanDifference), ("t", tt.T), ("t-test p", tt.PValue), ("Wilcoxon p", w.PValue));
            }
        }
        t.Format("mean diff", "F4").Format("t", "F2").Format("t-test p", "G3").Format("Wilcoxon p", "G3");
        return t;
    }

    private static (double P, double Diff) PairedP(List<StoredRun> a, List<StoredRun> b, string metric)
    {
        var (x, y) = Aligned(a, b, metric);
        if (x.Length < 2) return (double.NaN, double.NaN);
        var r = Statistics.PairedTTest(x, y);
        return (r.PValue, r.MeanDifference);
    }

    /// <summary>Per-user values of a metric averaged over each side's seeds, on the users both sides evaluated in every run.</summary>
    public static (double[] A, double[] B) Aligned(IReadOnlyList<StoredRun> a, IReadOnlyList<StoredRun> b, string metric)
    {
        Dictionary<int, double>? Avg(IReadOnlyList<StoredRun> runs)
        {
            var maps = runs.Select(r => r.PerUser.GetValueOrDefault(metric)).ToList();
            if (maps.Any(m => m is null)) return null;
            var users = maps[0]!.Keys.Where(u => maps.All(m => m!.ContainsKey(u)));
            return users.ToDictionary(u => u, u => maps.Average(m => m![u]));
        }
        var ma = Avg(a); var mb = Avg(b);
        if (ma is null || mb is null) return ([], []);
        var common = ma.Keys.Where(mb.ContainsKey).OrderBy(u => u).ToArray();
        return (common.Select(u => ma[u]).ToArray(), common.Select(u => mb[u]).ToArray());
    }
}
