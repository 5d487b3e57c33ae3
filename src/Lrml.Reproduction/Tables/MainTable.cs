using System.Globalization;
using Lrml.Data;
using Lrml.Evaluation;
using Lrml.Reproduction.Plots;

using Lrml.Experiments;

using Lrml.Models;

namespace Lrml.Reproduction;

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
    /// <summary>Also write PNG copies of the charts when headless Chromium is installed (the HTML is always written).</summary>
    public bool ChartImages { get; init; } = true;
    /// <summary>Also evaluate test after every epoch and report, beside the honest numbers, what choosing each run's epoch on
    /// the test set would give (<see cref="RunSpec.OracleEpoch"/>; oracle-epoch.{csv,md}). Its runs live in their own folder
    /// (&lt;profile&gt;-oracle), as their identity differs.</summary>
    public bool OracleEpoch { get; init; }
    /// <summary>Also retrain each run's configuration on train + validation for its validation-chosen epoch count and report those
    /// test metrics beside the honest ones (<see cref="RunSpec.RetrainOnValidation"/>; retrained.{csv,md}; runs in &lt;profile&gt;-retrain).</summary>
    public bool RetrainOnValidation { get; init; }
}

/// <summary>The main-results table, the headline improvement and the paired tests, with every run behind them.</summary>
public sealed class MainTableReport
{
    public required ResultTable Table { get; init; }
    public required ResultTable Headline { get; init; }
    public required ResultTable Significance { get; init; }
    public required IReadOnlyList<StoredRun> Runs { get; init; }
    public required string OutputDirectory { get; init; }

    /// <summary>Planned runs that ended without a result (or diverged): not in the means, listed in the table's notes.</summary>
    public IReadOnlyList<Backends.BackendRun> Missing { get; init; } = [];

    /// <summary>Chart files written next to the tables (HTML, and PNG when Chromium was found).</summary>
    public IReadOnlyList<string> ChartFiles { get; init; } = [];
    /// <summary>With <see cref="MainTableOptions.OracleEpoch"/>: per dataset, model and metric, the honest mean beside the mean a
    /// test-chosen epoch would report, and the gain; null otherwise.</summary>
    public ResultTable? Oracle { get; init; }
    /// <summary>With <see cref="MainTableOptions.RetrainOnValidation"/>: the honest mean beside the mean after retraining on train +
    /// validation; null otherwise.</summary>
    public ResultTable? Retrained { get; init; }
    /// <summary>Per dataset with LRML: whether the paper's claim holds there (<see cref="MainTable.BuildVerdict"/>).</summary>
    public ResultTable? Verdict { get; init; }

    /// <summary>The charts of the table: sampled HR@10/nDCG@10 and full-ranking Recall@10/nDCG@10 per dataset and model
    /// (see <see cref="MainTable.Charts(ResultTable)"/>).</summary>
    public IReadOnlyList<NamedChart> Charts() => MainTable.Charts(Table);

    /// <summary>What the numbers say, computed from the tables and runs (see <see cref="MainTable.Findings"/>).</summary>
    public Findings Findings() => MainTable.Findings(this);
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

    /// <summary>The runs a reproduction does (or reuses), in order: per dataset, per model, per seed (popularity once:
    /// it is deterministic).</summary>
    public static IReadOnlyList<PlannedRun> Plan(MainTableOptions options, ExperimentContext context) =>
        Plan(options, context, DatasetsFor(options, context), ModelsFor(options));

    private static List<PlannedRun> Plan(MainTableOptions options, ExperimentContext context, IReadOnlyList<string> datasets, IReadOnlyList<string> models)
    {
        var profile = options.Profile;
        int seeds = options.Seeds ?? profile.Seeds;
        string outDir = OutputDirectory(options, context);
        var plan = new List<PlannedRun>();
        foreach (var dataset in datasets)
            foreach (var model in models)
            {
                var preset = Presets.Get(model, dataset);
                int modelSeeds = ModelRegistry.Get(model).Deterministic ? 1 : seeds;
                for (int s = 1; s <= modelSeeds; s++)
                    plan.Add(new PlannedRun(Presets.Spec(preset, profile, s, options.Threads) with { OracleEpoch = options.OracleEpoch, RetrainOnValidation = options.RetrainOnValidation },
                        Path.Combine(outDir, "runs", dataset, $"{model}-seed{s}")));
            }
        return plan;
    }

    /// <summary>Where a reproduction writes: results/reproduce/main-table/&lt;profile&gt;/.</summary>
    public static string OutputDirectory(MainTableOptions options, ExperimentContext context) =>
        Path.Combine(context.ResultsRoot, "reproduce", "main-table", options.Profile.Name + (options.OracleEpoch ? "-oracle" : "") + (options.RetrainOnValidation ? "-retrain" : ""));

    /// <summary>How long <see cref="Run(MainTableOptions, ExperimentContext)"/> is expected to take with these options, said before starting (see
    /// <see cref="DurationEstimator.Estimate"/>: an estimate from throughputs measured here, runs already on disk count zero).</summary>
    public static DurationEstimate Estimate(MainTableOptions options, ExperimentContext context) =>
        DurationEstimator.Estimate($"main table ({options.Profile.Name} profile)", Plan(options, context), context,
            typical: TypicalEpochs.FromFinishedRuns(OutputDirectory(options, context)), recorded: StoppingEpochs.Shipped);

    /// <summary>Runs (or resumes) the reproduction and writes main-table.{csv,md}, headline.{csv,md},
    /// significance.{csv,md}, findings.md and the charts (main-table-sampled, main-table-full: .html, and .png when
    /// Chromium is installed) under results/reproduce/main-table/&lt;profile&gt;/.</summary>
    public static MainTableReport Run(MainTableOptions options, ExperimentContext context) => Run(options, context, null);

    /// <summary>As <see cref="Run(MainTableOptions, ExperimentContext)"/>, with the runs trained by <paramref name="backend"/>
    /// (null: here, one after the other; a <see cref="Backends.SlurmBackend"/> runs them as one job array). Runs still queued
    /// on the cluster raise <see cref="Backends.RunsOutstandingException"/> (nothing is written); runs that ended without a
    /// result (or diverged) leave their cells with the seeds that finished, and the table's notes and
    /// <see cref="MainTableReport.Missing"/> list them.</summary>
    public static MainTableReport Run(MainTableOptions options, ExperimentContext context, Backends.IRunBackend? backend)
    {
        var profile = options.Profile;
        string outDir = OutputDirectory(options, context);
        var datasets = DatasetsFor(options, context);
        var models = ModelsFor(options);
        var runs = new List<StoredRun>();
        var byCell = new Dictionary<(string Dataset, string Model), List<StoredRun>>();
        var plan = Plan(options, context, datasets, models);
        var ended = (backend ?? Backends.LocalBackend.Instance).Run(plan, context, outDir, $"main table ({profile.Name})");
        if (ended.Any(r => r.State == Backends.RunState.Queued)) Backends.RunsOutstandingException.ThrowIfAny(ended, "runs of the main table");
        foreach (var r in ended.Where(r => r.State == Backends.RunState.Finished))
        {
            var key = (r.Planned.Spec.Dataset, r.Planned.Spec.Model);
            if (!byCell.TryGetValue(key, out var list)) byCell[key] = list = new List<StoredRun>();
            list.Add(r.Run!);
            runs.Add(r.Run!);
        }
        var missing = ended.Where(r => r.State is Backends.RunState.Missing or Backends.RunState.Diverged).ToList();

        var table = BuildTable(datasets, models, byCell, profile, d => Experiment.DefaultProtocol(d, context));
        foreach (var m in missing)
            table.Notes.Add($"Missing from the means: {m.Planned.Spec.Dataset} {ModelRegistry.Get(m.Planned.Spec.Model).Display} seed {m.Planned.Spec.Train.Seed} " +
                            $"({(m.State == Backends.RunState.Diverged ? "diverged: " : "")}{m.Message}; run directory {m.Planned.Directory}).");
        var headline = BuildHeadline(datasets, byCell, options.MetricLearningBaselines);
        var significance = BuildSignificance(datasets, models, byCell);
        var verdict = BuildVerdict(headline, significance);
        Directory.CreateDirectory(outDir);
        table.Save(outDir, "main-table");
        headline.Save(outDir, "headline");
        significance.Save(outDir, "significance");
        verdict.Save(outDir, "verdict");
        var files = ChartFiles.Save(Charts(table), outDir, options.ChartImages, context.Observer);
        var oracle = options.OracleEpoch ? BuildBeside(datasets, models, byCell, OracleKind) : null;
        oracle?.Save(outDir, "oracle-epoch");
        var retrained = options.RetrainOnValidation ? BuildBeside(datasets, models, byCell, RetrainKind) : null;
        retrained?.Save(outDir, "retrained");
        var report = new MainTableReport
        {
            Table = table, Headline = headline, Significance = significance, Runs = runs, OutputDirectory = outDir, ChartFiles = files, Missing = missing,
            Oracle = oracle, Retrained = retrained, Verdict = verdict,
        };
        report.Findings().Save(Path.Combine(outDir, "findings.md"));
        return report;
    }

    /// <summary>
    /// The charts of a main table (as built by <see cref="Run(MainTableOptions, ExperimentContext)"/>): <c>main-table-sampled</c>, HR@10 and nDCG@10 with
    /// sampled candidates, and <c>main-table-full</c>, Recall@10 and nDCG@10 with full ranking; each a grouped bar chart
    /// with one category per dataset and metric, one bar per model (table order), and the standard deviation over
    /// seeds as error bars.
    /// </summary>
    public static IReadOnlyList<NamedChart> Charts(ResultTable table)
    {
        ArgumentNullException.ThrowIfNull(table);
        return
        [
            new("main-table-sampled", GroupedBars(table, [("HR@10", "HR@10", "HR@10 std"), ("nDCG@10", "nDCG@10", "nDCG@10 std")],
                "test metric, sampled candidates", "Sampled candidates: HR@10 and nDCG@10 per dataset and model (mean ± std over seeds)")),
            new("main-table-full", GroupedBars(table, [("Recall@10", "full Recall@10", "full Recall@10 std"), ("nDCG@10", "full nDCG@10", "full nDCG@10 std")],
                "test metric, full ranking", "Full ranking: Recall@10 and nDCG@10 per dataset and model (mean ± std over seeds)")),
        ];
    }

    private static Plotly.NET.GenericChart GroupedBars(ResultTable t, (string Label, string Mean, string Std)[] metrics, string yTitle, string title)
    {
        var datasets = new List<string>(); var models = new List<string>();
        for (int r = 0; r < t.Rows.Count; r++)
        {
            string d = t.Text(r, "dataset"), m = t.Text(r, "model");
            if (!datasets.Contains(d)) datasets.Add(d);
            if (!models.Contains(m)) models.Add(m);
        }
        var categories = datasets.SelectMany(d => metrics.Select(m => $"{d} · {m.Label}")).ToArray();
        var series = new List<BarSeries>();
        foreach (var model in models)
        {
            var values = new double[categories.Length]; var errors = new double[categories.Length];
            Array.Fill(values, double.NaN); Array.Fill(errors, double.NaN);
            for (int r = 0; r < t.Rows.Count; r++)
            {
                if (t.Text(r, "model") != model) continue;
                int d = datasets.IndexOf(t.Text(r, "dataset"));
                for (int k = 0; k < metrics.Length; k++)
                {
                    values[d * metrics.Length + k] = Reproduction.Findings.Num(t, r, metrics[k].Mean);
                    errors[d * metrics.Length + k] = Reproduction.Findings.Num(t, r, metrics[k].Std);
                }
            }
            series.Add(new BarSeries(model, values, errors));
        }
        return Plots.Charts.Bars(categories, series, yTitle, "dataset · metric", title);
    }

    /// <summary>
    /// What the main table says, in sentences computed from it: the models of each dataset ranked by sampled nDCG@10
    /// (mean ± std), LRML's relative improvement over the best metric-learning baseline with its paired test (and the
    /// paper's claim), which comparisons are not significant, whether full ranking reorders the models (Krichene and
    /// Rendle's warning), the known paper cells next to ours, and how many trained runs were still improving at their
    /// last epoch.
    /// </summary>
    public static Findings Findings(MainTableReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        var t = report.Table;
        var points = new List<string>();
        var datasets = Enumerable.Range(0, t.Rows.Count).Select(r => t.Text(r, "dataset")).Distinct().ToList();
        foreach (var d in datasets)
        {
            var rows = Enumerable.Range(0, t.Rows.Count).Where(r => t.Text(r, "dataset") == d).ToList();
            var bySampled = rows.OrderByDescending(r => Reproduction.Findings.Num(t, r, "nDCG@10")).ToList();
            string protocol = t.Text(rows[0], "protocol");
            int seeds = rows.Max(r => (int)Math.Max(1, Reproduction.Findings.Num(t, r, "seeds")));
            points.Add($"**{d}** ({protocol}, {seeds} seed(s)): by sampled nDCG@10 " + string.Join(", ", bySampled.Select(r =>
                $"{t.Text(r, "model")} {Reproduction.Findings.F4(Reproduction.Findings.Num(t, r, "nDCG@10"))}" +
                (Reproduction.Findings.Num(t, r, "seeds") > 1 ? $" ± {Reproduction.Findings.F4(Reproduction.Findings.Num(t, r, "nDCG@10 std"))}" : "") +
                $" (HR@10 {Reproduction.Findings.F4(Reproduction.Findings.Num(t, r, "HR@10"))})")) + ".");

            // the headline: LRML against the best metric-learning baseline
            var h = report.Headline;
            var hRows = Enumerable.Range(0, h.Rows.Count).Where(r => h.Text(r, "dataset") == d).ToList();
            if (hRows.Count > 0)
            {
                string baseline = h.Text(hRows[0], "best baseline");
                var parts = hRows.Select(r => $"{h.Text(r, "metric")} {Reproduction.Findings.Percent(Reproduction.Findings.Num(h, r, "relative improvement %"))} " +
                                              $"(paired t-test p = {Reproduction.Findings.P(Reproduction.Findings.Num(h, r, "paired t-test p"))})");
                points.Add($"LRML against the best metric-learning baseline on {d} ({baseline}): {string.Join(", ", parts)}. " +
                           "The paper reports +6 % to +7.5 % on its large datasets (Netflix, MovieLens-20M).");
            }

            // the verdict on the paper's claim, in one sentence
            if (report.Verdict is { } v && Enumerable.Range(0, v.Rows.Count).FirstOrDefault(r => v.Text(r, "dataset") == d, -1) is int vr and >= 0)
                points.Add("**Verdict:** " + v.Text(vr, "sentence"));

            // paired tests: which differences are within noise
            var sg = report.Significance;
            var sRows = Enumerable.Range(0, sg.Rows.Count).Where(r => sg.Text(r, "dataset") == d).ToList();
            if (sRows.Count > 0)
            {
                string Describe(int r) => $"{sg.Text(r, "versus")} (mean per-user difference {Signed(Reproduction.Findings.Num(sg, r, "mean diff"))}, " +
                                          $"t-test p = {Reproduction.Findings.P(Reproduction.Findings.Num(sg, r, "t-test p"))}, " +
                                          $"Wilcoxon p = {Reproduction.Findings.P(Reproduction.Findings.Num(sg, r, "Wilcoxon p"))})";
                var significant = sRows.Where(r => Reproduction.Findings.Num(sg, r, "t-test p") < 0.05).ToList();
                var notSignificant = sRows.Except(significant).ToList();
                string text = significant.Count > 0
                    ? $"On {d}, LRML's per-user nDCG@10 differs significantly (paired t-test, 5 %) from {string.Join("; ", significant.Select(Describe))}" +
                      (notSignificant.Count > 0 ? $", but not significantly from {string.Join("; ", notSignificant.Select(Describe))}" : "")
                    : $"On {d}, LRML's per-user nDCG@10 does not differ significantly (paired t-test, 5 %) from {string.Join("; ", notSignificant.Select(Describe))}";
                points.Add(text + ".");
            }

            // full ranking versus sampled candidates
            var byFull = rows.Where(r => !double.IsNaN(Reproduction.Findings.Num(t, r, "full nDCG@10")))
                .OrderByDescending(r => Reproduction.Findings.Num(t, r, "full nDCG@10")).ToList();
            if (byFull.Count > 1)
            {
                // a swap of the sampled order counts only when the full-ranking gap is larger than the noise: a paired
                // t-test over per-user full nDCG@10 (averaged over seeds), p < 0.05
                var swaps = new List<string>();
                var withinNoise = new List<string>();
                for (int a = 0; a < byFull.Count; a++)
                    for (int b = a + 1; b < byFull.Count; b++)
                        if (bySampled.IndexOf(byFull[a]) > bySampled.IndexOf(byFull[b]))
                        {
                            string ma = t.Text(byFull[a], "model"), mb = t.Text(byFull[b], "model");
                            double p = FullRankingGapP(report.Runs, d, ma, mb);
                            string pair = $"{ma} ({Reproduction.Findings.F4(Reproduction.Findings.Num(t, byFull[a], "full nDCG@10"))}) ahead of " +
                                          $"{mb} ({Reproduction.Findings.F4(Reproduction.Findings.Num(t, byFull[b], "full nDCG@10"))})";
                            if (p < 0.05) swaps.Add($"{pair}, p = {Reproduction.Findings.P(p)}");
                            else withinNoise.Add($"{pair}, {(double.IsNaN(p) ? "no per-user values to test" : "p = " + Reproduction.Findings.P(p))}");
                        }
                string order = string.Join(" > ", byFull.Select(r => t.Text(r, "model")));
                const string test = "paired t-test over per-user full nDCG@10, seeds averaged";
                if (swaps.Count > 0)
                    points.Add($"Full ranking on {d} reorders the models ({order} by full nDCG@10): {string.Join("; ", swaps)} ({test}), " +
                               "the reverse of their sampled order — the effect Krichene and Rendle (KDD 2020) warn about, so conclusions should rest on both.");
                if (withinNoise.Count > 0)
                    points.Add($"Full ranking on {d} swaps {string.Join("; ", withinNoise)} relative to the sampled order, but by no more than the noise " +
                               $"({test}, p ≥ 0.05): not counted as a reordering.");
                if (swaps.Count == 0 && withinNoise.Count == 0)
                    points.Add($"Full ranking on {d} keeps the order of the sampled metrics ({order} by full nDCG@10).");
            }

            // the paper's known cells
            foreach (var r in rows)
            {
                double ph = Reproduction.Findings.Num(t, r, "paper HR@10"), pn = Reproduction.Findings.Num(t, r, "paper nDCG@10");
                if (double.IsNaN(ph) && double.IsNaN(pn)) continue;
                var cmp = new List<string>();
                if (!double.IsNaN(ph)) cmp.Add($"HR@10 {Reproduction.Findings.F4(Reproduction.Findings.Num(t, r, "HR@10"))} here vs {Reproduction.Findings.F4(ph)} in the paper");
                if (!double.IsNaN(pn)) cmp.Add($"nDCG@10 {Reproduction.Findings.F4(Reproduction.Findings.Num(t, r, "nDCG@10"))} here vs {Reproduction.Findings.F4(pn)} in the paper");
                points.Add($"{t.Text(r, "model")} on {d}: {string.Join(", ", cmp)} (the paper's candidate set probably differs from the one used here).");
            }
        }
        if (!datasets.Any(d => PaperNumbers.All.Any(p => p.Dataset == d)))
            points.Add("No dataset of this run has known paper numbers (only cells of ML-1M, ML-20M and Netflix are known): " +
                       "run the full profile, or name ml-1m in the datasets, for the comparison with the paper.");

        var trained = report.Runs.Where(r => r.Result.Epochs > 0).ToList();
        int stillImproving = trained.Count(r => r.Result.BestEpoch == r.Result.Epochs && !r.Result.StoppedEarly);
        if (trained.Count > 0)
            points.Add(stillImproving == 0
                ? $"Every trained run ({trained.Count}) reached its best validation score before its last epoch."
                : $"{stillImproving} of {trained.Count} trained runs had their best validation score at their last epoch (at most " +
                  $"{trained.Max(r => r.Result.Epochs)} epochs here): those models were still improving, so these numbers understate them.");
        if (report.Oracle is { Rows.Count: > 0 } o)
        {
            var gains = Enumerable.Range(0, o.Rows.Count).Where(r => o.Text(r, "metric") == "HR@10").ToList();
            int largest = gains.OrderByDescending(r => Reproduction.Findings.Num(o, r, "gain")).First();
            points.Add($"Choosing each run's epoch on the test set (the oracle epoch) would add {Reproduction.Findings.F4(gains.Average(r => Reproduction.Findings.Num(o, r, "gain")))} " +
                       $"HR@10 on average over the honest validation-chosen epoch (largest: {o.Text(largest, "model")} on {o.Text(largest, "dataset")}, " +
                       $"{Signed(Reproduction.Findings.Num(o, largest, "gain"))}): the inflation a test-selected 'best' carries (oracle-epoch.md).");
        }
        if (report.Retrained is { Rows.Count: > 0 } rt)
        {
            var rows = Enumerable.Range(0, rt.Rows.Count).Where(r => rt.Text(r, "metric") == "HR@10").ToList();
            int up = rows.Count(r => Reproduction.Findings.Num(rt, r, "gain") > 0);
            points.Add($"Retraining on train + validation for the chosen epochs changes HR@10 by {Signed(rows.Average(r => Reproduction.Findings.Num(rt, r, "gain")))} " +
                       $"on average ({up} of {rows.Count} model(s) gain; retrained.md), reported beside the default protocol, not instead of it.");
        }
        return new Findings("What the main table found", points);
    }

    /// <summary>p of the paired t-test over per-user full-ranking nDCG@10 of two models (display names) on a dataset, their
    /// seeds averaged per user; NaN when per-user values are missing.</summary>
    private static double FullRankingGapP(IReadOnlyList<StoredRun> runs, string dataset, string modelA, string modelB)
    {
        var a = runs.Where(r => r.Result.Dataset == dataset && r.Result.Model == modelA).ToList();
        var b = runs.Where(r => r.Result.Dataset == dataset && r.Result.Model == modelB).ToList();
        if (a.Count == 0 || b.Count == 0) return double.NaN;
        // as in the table: with sampled candidates the full-ranking values carry the "full/" prefix
        string metric = a[0].Result.Metrics.ContainsKey("full/nDCG@10") ? "full/nDCG@10" : "nDCG@10";
        var (x, y) = Aligned(a, b, metric);
        return x.Length < 2 ? double.NaN : Statistics.PairedTTest(x, y).PValue;
    }

    private static string Signed(double v) => double.IsNaN(v) ? "n/a" : (v >= 0 ? "+" : "−") + Math.Abs(v).ToString("0.0000", CultureInfo.InvariantCulture);

    private static ResultTable BuildTable(IReadOnlyList<string> datasets, IReadOnlyList<string> models,
        Dictionary<(string, string), List<StoredRun>> byCell, Profile profile, Func<string, string> defaultProtocol)
    {
        var t = new ResultTable($"Main results ({profile.Name} profile): test metrics, mean ± std over seeds",
            "dataset", "protocol", "model", "seeds");
        foreach (var c in new[] { "HR@10", "HR@10 std", "nDCG@10", "nDCG@10 std", "full Recall@10", "full Recall@10 std", "full nDCG@10", "full nDCG@10 std",
                     "paper HR@10", "paper nDCG@10", "s/epoch" })
            t.AddColumn(c, c == "s/epoch" ? "F2" : "F4");
        foreach (var dataset in datasets)
            foreach (var model in models)
            {
                if (!byCell.TryGetValue((dataset, model), out var list))
                {
                    // every run of this cell is missing: the row stays, empty, so the table shows the gap
                    t.AddRow(("dataset", dataset), ("protocol", defaultProtocol(dataset)), ("model", ModelRegistry.Get(model).Display), ("seeds", 0));
                    continue;
                }
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
                    ("full Recall@10", fr.mean), ("full Recall@10 std", fr.std), ("full nDCG@10", fn.mean), ("full nDCG@10 std", fn.std),
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
        t.Notes.Add(t.Rows.Count == 0
            ? "No headline: it needs LRML and one of the metric-learning baselines (" + string.Join(", ", baselines) + ") on the same dataset."
            : "Per-user values are averaged over seeds before the paired test (users evaluated in every run).");
        return t;
    }

    /// <summary>
    /// The verdict on the paper's claim, one row per dataset with LRML: the claim is that LRML beats the metric-learning baselines
    /// (the headline: +6 % to +7.5 % over the best of them on the large datasets) and the other models. It <b>holds</b> when LRML
    /// is above the best metric-learning baseline on HR@10 and nDCG@10 with paired t-test p &lt; 0.05 and no model is significantly
    /// above it (paired tests over per-user nDCG@10); it <b>does not hold</b> when the best metric-learning baseline is significantly
    /// above LRML on either metric, or another model is; otherwise the differences are within noise and it is <b>not decided</b>.
    /// </summary>
    public static ResultTable BuildVerdict(ResultTable headline, ResultTable significance)
    {
        ArgumentNullException.ThrowIfNull(headline);
        ArgumentNullException.ThrowIfNull(significance);
        var t = new ResultTable("Verdict: does the paper's claim (LRML beats the metric-learning baselines and the other models) hold here?",
            "dataset", "best metric-learning baseline", "HR@10 improvement %", "HR@10 p", "nDCG@10 improvement %", "nDCG@10 p",
            "LRML vs metric learning", "significantly above LRML", "significantly below LRML", "verdict", "sentence");
        const double alpha = 0.05;
        var datasets = Enumerable.Range(0, headline.Rows.Count).Select(r => headline.Text(r, "dataset")).Distinct().ToList();
        foreach (var d in datasets)
        {
            var h = Enumerable.Range(0, headline.Rows.Count).Where(r => headline.Text(r, "dataset") == d)
                .ToDictionary(r => headline.Text(r, "metric"), r => (Rel: Reproduction.Findings.Num(headline, r, "relative improvement %"), P: Reproduction.Findings.Num(headline, r, "paired t-test p")));
            string baseline = headline.Text(Enumerable.Range(0, headline.Rows.Count).First(r => headline.Text(r, "dataset") == d), "best baseline");
            var s = Enumerable.Range(0, significance.Rows.Count).Where(r => significance.Text(r, "dataset") == d && Reproduction.Findings.Num(significance, r, "t-test p") < alpha).ToList();
            var above = s.Where(r => Reproduction.Findings.Num(significance, r, "mean diff") < 0).Select(r => significance.Text(r, "versus")).ToList();
            var below = s.Where(r => Reproduction.Findings.Num(significance, r, "mean diff") > 0).Select(r => significance.Text(r, "versus")).ToList();
            bool wins = h.Count > 0 && h.Values.All(x => x.Rel > 0 && x.P < alpha);
            bool loses = h.Values.Any(x => x.Rel < 0 && x.P < alpha);
            string verdict = loses || above.Count > 0 ? "does not hold" : wins ? "holds" : "not decided";
            string Part(string m) => h.TryGetValue(m, out var x) ? $"{m} {Reproduction.Findings.Percent(x.Rel)}, p = {Reproduction.Findings.P(x.P)}" : $"{m} n/a";
            // the claim has two parts, said apart: LRML against the metric-learning baselines, and against every other model
            string metric = wins ? "beats" : loses ? "is significantly below" : "is within noise of";
            string others = above.Count switch
            {
                0 => "no model is significantly above LRML on nDCG@10",
                1 => $"{above[0]} is significantly above LRML on nDCG@10",
                _ => $"{string.Join(", ", above)} are significantly above LRML on nDCG@10",
            };
            string sentence = $"On {d} the paper's claim {(verdict == "not decided" ? "is not decided" : verdict)}: LRML {metric} the best metric-learning baseline, " +
                              $"{baseline} ({Part("HR@10")}; {Part("nDCG@10")}){(wins && above.Count > 0 ? ", but " : "; ")}{others}" +
                              (verdict == "not decided" ? " — the differences are within seed and user noise (paired t-test, 5 %)." : ".");
            t.AddRow(("dataset", d), ("best metric-learning baseline", baseline),
                ("HR@10 improvement %", h.TryGetValue("HR@10", out var hr) ? hr.Rel : null), ("HR@10 p", h.TryGetValue("HR@10", out hr) ? hr.P : null),
                ("nDCG@10 improvement %", h.TryGetValue("nDCG@10", out var nd) ? nd.Rel : null), ("nDCG@10 p", h.TryGetValue("nDCG@10", out nd) ? nd.P : null),
                ("LRML vs metric learning", wins ? "above" : loses ? "below" : "within noise"), ("significantly above LRML", string.Join(", ", above)), ("significantly below LRML", string.Join(", ", below)),
                ("verdict", verdict), ("sentence", sentence));
        }
        t.Format("HR@10 improvement %", "F2").Format("nDCG@10 improvement %", "F2").Format("HR@10 p", "G3").Format("nDCG@10 p", "G3");
        if (t.Rows.Count == 0) t.Notes.Add("No verdict: it needs LRML and a metric-learning baseline on the same dataset.");
        return t;
    }

    /// <summary>A number reported beside a run's honest test metrics: its name, the table title, how to read it from a result, and
    /// the note under its table.</summary>
    internal sealed record BesideKind(string Name, string Title, Func<RunResult, SortedDictionary<string, double>?> Read, string Note);

    internal static readonly BesideKind OracleKind = new("oracle",
        "Honest vs oracle epoch: test metrics when each run's epoch is chosen on validation (honest) or on test (oracle, optimistic)",
        r => r.OracleTestMetrics,
        "The oracle epoch is the epoch with the highest test value of the validation metric, as a 'best' taken over test evaluations " +
        "during training reports it; it is shown only to measure that inflation, never as a result.");

    internal static readonly BesideKind RetrainKind = new("retrained",
        "Honest vs retrained: test metrics of the validation-held-out model (honest) and of the same configuration retrained on train + validation for its chosen epochs",
        r => r.RetrainedTestMetrics,
        "Retrained: trained again from the same seed on train + validation for the validation-chosen number of epochs (Rendle et al. 2019/2020), " +
        "then tested on the same candidates; it uses one more interaction per user, so it is reported beside the default, not instead of it.");

    /// <summary>For each trained model, the honest test mean beside the mean of an alternative number over the same runs (the
    /// oracle epoch, or retraining on train + validation) and the difference.</summary>
    internal static ResultTable BuildBeside(IReadOnlyList<string> datasets, IReadOnlyList<string> models, Dictionary<(string, string), List<StoredRun>> byCell,
        BesideKind kind)
    {
        var t = new ResultTable(kind.Title, "dataset", "model", "metric", "honest", kind.Name, "gain", "gain %", "runs");
        foreach (var dataset in datasets)
            foreach (var model in models)
            {
                if (!byCell.TryGetValue((dataset, model), out var runs)) continue;
                var with = runs.Where(r => kind.Read(r.Result) is not null).ToList();
                if (with.Count == 0) continue;
                foreach (var metric in new[] { "HR@10", "nDCG@10" })
                {
                    double honest = with.Average(r => r.Result.Metrics.GetValueOrDefault(metric, double.NaN));
                    double other = with.Average(r => kind.Read(r.Result)!.GetValueOrDefault(metric, double.NaN));
                    t.AddRow(("dataset", dataset), ("model", with[0].Result.Model), ("metric", metric), ("honest", honest), (kind.Name, other),
                        ("gain", other - honest), ("gain %", 100 * (other - honest) / honest), ("runs", with.Count));
                }
            }
        t.Format("honest", "F4").Format(kind.Name, "F4").Format("gain", "F4").Format("gain %", "F2");
        t.Notes.Add(kind.Note);
        return t;
    }

    private static ResultTable BuildSignificance(IReadOnlyList<string> datasets, IReadOnlyList<string> models,
        Dictionary<(string, string), List<StoredRun>> byCell)
    {
        var t = new ResultTable("Paired tests over per-user nDCG@10: LRML minus each model", "dataset", "versus", "users", "mean diff", "t", "t-test p", "Wilcoxon p");
        foreach (var dataset in datasets)
        {
            if (!byCell.TryGetValue((dataset, "lrml"), out var lrml)) continue;
            foreach (var m in models.Where(m => m != "lrml"))
            {
                if (!byCell.TryGetValue((dataset, m), out var other)) continue;
                var (a, b) = Aligned(lrml, other, "nDCG@10");
                if (a.Length < 2) continue;
                var tt = Statistics.PairedTTest(a, b);
                var w = Statistics.WilcoxonSignedRank(a, b);
                t.AddRow(("dataset", dataset), ("versus", other[0].Result.Model), ("users", a.Length),
                    ("mean diff", tt.MeanDifference), ("t", tt.T), ("t-test p", tt.PValue), ("Wilcoxon p", w.PValue));
            }
        }
        t.Format("mean diff", "F4").Format("t", "F2").Format("t-test p", "G3").Format("Wilcoxon p", "G3");
        if (t.Rows.Count == 0) t.Notes.Add("No paired test: it needs LRML and another model on the same dataset, with per-user values.");
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
