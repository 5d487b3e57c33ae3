using System.Diagnostics;
using System.Globalization;
using Lrml.Data;
using Lrml.Evaluation;
using Lrml.Reproduction.Plots;
using Lrml.Models;
using Lrml.Protocols;
using Lrml.Training;

using Lrml.Experiments;

namespace Lrml.Reproduction;

/// <summary>Options of the training-dynamics and cost study.</summary>
public sealed record DynamicsOptions
{
    public Profile Profile { get; init; } = Profile.Quick;
    /// <summary>Dataset for the curves and the cost grid (null: ml-1m in full, ml-100k in quick, synthetic when absent).</summary>
    public string? Dataset { get; init; }
    public int Threads { get; init; } = 2;
    /// <summary>Models whose curves are drawn (null: <see cref="Dynamics.DefaultModels"/>).</summary>
    public IReadOnlyList<string>? Models { get; init; }
    /// <summary>Also write PNG copies of the charts when headless Chromium is installed (the HTML is always written).</summary>
    public bool ChartImages { get; init; } = true;
}

/// <summary>Curves (one row per model and epoch) and the cost grid (one row per N or d).</summary>
public sealed record DynamicsReport(string Dataset, ResultTable Curves, ResultTable Cost, string OutputDirectory)
{
    /// <summary>Chart files written next to the tables (HTML, and PNG when Chromium was found).</summary>
    public IReadOnlyList<string> ChartFiles { get; init; } = [];

    /// <summary>The curves and cost charts (see <see cref="Dynamics.Charts"/>).</summary>
    public IReadOnlyList<NamedChart> Charts() => Dynamics.Charts(Curves, Cost);

    /// <summary>What the curves and the cost grid say, computed from the tables (see <see cref="Dynamics.Findings"/>).</summary>
    public Findings Findings() => Dynamics.Findings(this);
}

/// <summary>
/// Training dynamics and cost: loss and validation curves per epoch for every model (one seed, no early
/// stopping, so the whole curve shows), and the seconds per epoch, evaluation time and memory of LRML as
/// the number of memory slots N and the dimension d grow.
/// </summary>
public static class Dynamics
{
    public static string DefaultDataset(DynamicsOptions o, ExperimentContext context)
    {
        if (o.Dataset is not null) return Datasets.Get(o.Dataset).Name;
        if (o.Profile.Name == "full" && Datasets.Locate("ml-1m", context.Data) is not null) return "ml-1m";
        return Datasets.Locate("ml-100k", context.Data) is not null ? "ml-100k" : "synthetic";
    }

    /// <summary>The (N, d) grid of the cost study.</summary>
    public static IReadOnlyList<(int Slots, int Dim)> CostGrid(Profile profile)
    {
        // N varies at d = CostDim, d varies at N = CostSlots: both lists contain the other's fixed value, so the two
        // cost curves meet at (CostSlots, CostDim).
        int[] slots = profile.Name == "quick" ? [1, 5, 20, 50] : [1, 5, 10, 20, 50, 100];
        int[] dims = profile.Name == "quick" ? [25, 50, 100] : [25, 50, 100, 200];
        var grid = slots.Select(n => (n, CostDim)).ToList();
        grid.AddRange(dims.Where(d => d != CostDim).Select(d => (CostSlots, d)));
        return grid;
    }

    /// <summary>The curves drawn by default: LRML and the two pairwise baselines of the paper's comparison.</summary>
    public static IReadOnlyList<string> DefaultModels { get; } = ["bpr", "cml", "lrml"];

    /// <summary>The dimension at which the cost grid varies N.</summary>
    public const int CostDim = 100;

    /// <summary>The number of memory slots at which the cost grid varies d.</summary>
    public const int CostSlots = 20;

    /// <summary>Where a study writes: results/reproduce/dynamics/&lt;profile&gt;/&lt;dataset&gt;/.</summary>
    public static string OutputDirectory(DynamicsOptions options, ExperimentContext context) =>
        Path.Combine(context.ResultsRoot, "reproduce", "dynamics", options.Profile.Name, DefaultDataset(options, context));

    /// <summary>The curve runs (one per model, seed 1, no early stopping, no full ranking), in order.</summary>
    public static IReadOnlyList<PlannedRun> Plan(DynamicsOptions options, ExperimentContext context)
    {
        string dataset = DefaultDataset(options, context);
        string outDir = OutputDirectory(options, context);
        var plan = new List<PlannedRun>();
        foreach (var model in options.Models ?? DefaultModels)
        {
            if (model == "pop" || !ModelRegistry.All.Any(e => e.Name == model)) continue;
            var preset = Presets.Get(model, dataset);
            var spec = Presets.Spec(preset, options.Profile with { Patience = 0 }, 1, options.Threads);
            spec = spec with { Train = spec.Train with { Patience = 0 }, FullRanking = false };
            plan.Add(new PlannedRun(spec, Path.Combine(outDir, "runs", model)));
        }
        return plan;
    }

    /// <summary>How long <see cref="Run"/> is expected to take: the curve runs and the cost grid (a warm-up and the timed epochs, sampled and
    /// full evaluation per point), see <see cref="DurationEstimator.Estimate"/>.</summary>
    public static DurationEstimate Estimate(DynamicsOptions options, ExperimentContext context)
    {
        string dataset = DefaultDataset(options, context);
        string outDir = OutputDirectory(options, context);
        var runs = Plan(options, context).ToList();
        foreach (var (n, d) in CostGrid(options.Profile))
            runs.Add(new PlannedRun(new RunSpec
            {
                Dataset = dataset, Model = "lrml",
                Settings = [ConfigBinder.Pair<LrmlConfig>(c => c.Slots, n.ToString(CultureInfo.InvariantCulture)), ConfigBinder.Pair<LrmlConfig>(c => c.Dim, d.ToString(CultureInfo.InvariantCulture))],
                Train = new TrainConfig { Epochs = 1 + TimingRepeats, Seed = 1, Threads = options.Threads, EvalEvery = 0 },
            }, Path.Combine(outDir, "cost", $"N{n}-d{d}")));
        return DurationEstimator.Estimate($"dynamics and cost on {dataset} ({options.Profile.Name} profile)", runs, context);
    }

    /// <summary>Trains (or reuses) the curve runs, measures the cost grid, and writes curves.{csv,md}, cost.{csv,md},
    /// findings.md and the charts (dynamics-curves, dynamics-cost-slots, dynamics-cost-dim: .html, and .png when Chromium
    /// is installed) under results/reproduce/dynamics/&lt;profile&gt;/&lt;dataset&gt;/.</summary>
    public static DynamicsReport Run(DynamicsOptions options, ExperimentContext context)
    {
        string dataset = DefaultDataset(options, context);
        string outDir = OutputDirectory(options, context);
        var curves = new ResultTable($"Training curves on {dataset} (seed 1, no early stopping)",
            "model", "epoch", "mean loss", "validation nDCG@10", "validation HR@10", "seconds");
        curves.Format("mean loss", "F5").Format("validation nDCG@10", "F4").Format("validation HR@10", "F4").Format("seconds", "F2");
        foreach (var planned in Plan(options, context))
        {
            var run = RunStore.RunOrLoad(planned.Spec, context, planned.Directory);
            foreach (var e in ReadEpochs(Path.Combine(run.Directory, "epochs.jsonl")))
                curves.AddRow(("model", run.Result.Model), ("epoch", e.Epoch), ("mean loss", e.MeanLoss),
                    ("validation nDCG@10", e.Validation?.GetValueOrDefault("nDCG@10", double.NaN) ?? double.NaN),
                    ("validation HR@10", e.Validation?.GetValueOrDefault("HR@10", double.NaN) ?? double.NaN), ("seconds", e.TrainSeconds));
        }
        var cost = Cost(dataset, options, context);
        Directory.CreateDirectory(outDir);
        curves.Save(outDir, "curves");
        cost.Save(outDir, "cost");
        var report = new DynamicsReport(dataset, curves, cost, outDir);
        report = report with { ChartFiles = ChartFiles.Save(report.Charts(), outDir, options.ChartImages, context.Observer) };
        report.Findings().Save(Path.Combine(outDir, "findings.md"));
        return report;
    }

    /// <summary>
    /// The charts of a dynamics study (tables as built by <see cref="Run"/>): <c>dynamics-curves</c>, mean training loss
    /// (top) and validation nDCG@10 (bottom, best epoch starred) per epoch, one colour per model;
    /// <c>dynamics-cost-slots</c>, seconds (training per epoch, sampled and full-ranking evaluation) and state size against
    /// N at d = <see cref="CostDim"/> (logarithmic x axis); <c>dynamics-cost-dim</c>, the same against d at
    /// N = <see cref="CostSlots"/>.
    /// </summary>
    public static IReadOnlyList<NamedChart> Charts(ResultTable curves, ResultTable cost)
    {
        ArgumentNullException.ThrowIfNull(curves);
        ArgumentNullException.ThrowIfNull(cost);
        var runs = new List<(string Name, IReadOnlyList<EpochRecord> Epochs)>();
        foreach (var model in Enumerable.Range(0, curves.Rows.Count).Select(r => curves.Text(r, "model")).Distinct())
        {
            var records = new List<EpochRecord>();
            double best = double.NegativeInfinity;
            for (int r = 0; r < curves.Rows.Count; r++)
            {
                if (curves.Text(r, "model") != model) continue;
                double v = Reproduction.Findings.Num(curves, r, "validation nDCG@10");
                double h = Reproduction.Findings.Num(curves, r, "validation HR@10");
                bool isBest = !double.IsNaN(v) && v > best;
                if (isBest) best = v;
                var validation = double.IsNaN(v) ? null : new Dictionary<string, double> { ["nDCG@10"] = v, ["HR@10"] = h };
                records.Add(new EpochRecord((int)Reproduction.Findings.Num(curves, r, "epoch"), double.NaN, Reproduction.Findings.Num(curves, r, "mean loss"),
                    Reproduction.Findings.Num(curves, r, "seconds"), 0, validation, isBest, 0));
            }
            runs.Add((model, records));
        }
        return
        [
            new("dynamics-curves", Plots.Charts.TrainingCurves(runs, "nDCG@10", $"{curves.Title}: training loss and validation nDCG@10")),
            new("dynamics-cost-slots", CostChart(cost, "slots N", "dim d", CostDim, $"LRML cost against the memory slots N (d = {CostDim})", logX: true)),
            new("dynamics-cost-dim", CostChart(cost, "dim d", "slots N", CostSlots, $"LRML cost against the dimension d (N = {CostSlots})", logX: false)),
        ];
    }

    private static Plotly.NET.GenericChart CostChart(ResultTable cost, string xColumn, string fixedColumn, int fixedValue, string title, bool logX)
    {
        var rows = Enumerable.Range(0, cost.Rows.Count)
            .Where(r => Reproduction.Findings.Num(cost, r, fixedColumn) == fixedValue)
            .OrderBy(r => Reproduction.Findings.Num(cost, r, xColumn)).ToArray();
        double[] Col(string c) => rows.Select(r => Reproduction.Findings.Num(cost, r, c)).ToArray();
        var x = Col(xColumn);
        return Plots.Charts.LinePanels(
        [
            ("seconds", [new Series("training s/epoch", x, Col("s/epoch")), new Series("sampled eval s", x, Col("sampled eval s")),
                         new Series("full-ranking eval s", x, Col("full eval s"))]),
            ("state MB", [new Series("model + optimiser state MB", x, Col("state MB"))]),
        ], xColumn, title, logX, yFromZero: true);
    }

    /// <summary>
    /// What the study says: per model, the best validation nDCG@10 and its epoch, whether it was still improving at
    /// the last epoch, and the loss drop; for the cost grid, how seconds per epoch and state size grow from the smallest
    /// to the largest N and d.
    /// </summary>
    public static Findings Findings(DynamicsReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        var ci = CultureInfo.InvariantCulture;
        var points = new List<string>();
        var c = report.Curves;
        foreach (var model in Enumerable.Range(0, c.Rows.Count).Select(r => c.Text(r, "model")).Distinct())
        {
            var rows = Enumerable.Range(0, c.Rows.Count).Where(r => c.Text(r, "model") == model).ToList();
            var withVal = rows.Where(r => !double.IsNaN(Reproduction.Findings.Num(c, r, "validation nDCG@10"))).ToList();
            if (withVal.Count == 0) continue;
            int best = withVal.OrderByDescending(r => Reproduction.Findings.Num(c, r, "validation nDCG@10")).First();
            int last = rows[^1];
            double l0 = Reproduction.Findings.Num(c, rows[0], "mean loss"), l1 = Reproduction.Findings.Num(c, last, "mean loss");
            string trend = best == last
                ? "still improving at the last epoch (more epochs would help)"
                : $"{Reproduction.Findings.F4(Reproduction.Findings.Num(c, last, "validation nDCG@10"))} at the last epoch";
            points.Add($"**{model}**: best validation nDCG@10 {Reproduction.Findings.F4(Reproduction.Findings.Num(c, best, "validation nDCG@10"))} " +
                       $"at epoch {c.Text(best, "epoch")} of {c.Text(last, "epoch")}, {trend}; mean training loss {l0.ToString("0.000", ci)} → {l1.ToString("0.000", ci)}, " +
                       $"{Mean(rows.Select(r => Reproduction.Findings.Num(c, r, "seconds"))).ToString("0.00", ci)} s per epoch on average.");
        }
        var k = report.Cost;
        void Growth(string xColumn, string fixedColumn, int fixedValue, string label)
        {
            var rows = Enumerable.Range(0, k.Rows.Count).Where(r => Reproduction.Findings.Num(k, r, fixedColumn) == fixedValue)
                .OrderBy(r => Reproduction.Findings.Num(k, r, xColumn)).ToList();
            if (rows.Count < 2) return;
            int a = rows[0], b = rows[^1];
            double sa = Reproduction.Findings.Num(k, a, "s/epoch"), sb = Reproduction.Findings.Num(k, b, "s/epoch");
            double ma = Reproduction.Findings.Num(k, a, "state MB"), mb = Reproduction.Findings.Num(k, b, "state MB");
            double fa = Reproduction.Findings.Num(k, a, "full eval s"), fb = Reproduction.Findings.Num(k, b, "full eval s");
            points.Add($"From {label} = {k.Text(a, xColumn)} to {k.Text(b, xColumn)} ({fixedColumn} = {fixedValue.ToString(ci)}): training time " +
                       $"{Direction(sa, sb)} ({sa.ToString("0.00", ci)} → {sb.ToString("0.00", ci)} s/epoch, × {(sb / sa).ToString("0.0", ci)}), full-ranking evaluation time " +
                       $"{Direction(fa, fb)} ({fa.ToString("0.00", ci)} → {fb.ToString("0.00", ci)} s), state size {Direction(ma, mb)} ({ma.ToString("0.0", ci)} → " +
                       $"{mb.ToString("0.0", ci)} MB, × {(mb / ma).ToString("0.0", ci)}).");
        }
        Growth("slots N", "dim d", CostDim, "N");
        Growth("dim d", "slots N", CostSlots, "d");
        if (k.Rows.Count > 0) points.Add($"Timings are medians of {TimingRepeats} repeats per point on the machine that ran this: read them as " +
                                         "orders of magnitude, not as a benchmark (lrml bench is the benchmark).");
        return new Findings($"What the training curves and the cost grid show on {report.Dataset}", points);
    }

    /// <summary>Timed repeats per cost point (training epochs after the warm-up, and each evaluation).</summary>
    public const int TimingRepeats = 3;

    private static double Median(IEnumerable<double> xs)
    {
        var a = xs.Where(double.IsFinite).OrderBy(v => v).ToArray();
        return a.Length == 0 ? double.NaN : a.Length % 2 == 1 ? a[a.Length / 2] : (a[a.Length / 2 - 1] + a[a.Length / 2]) / 2;
    }

    /// <summary>How a measured time changes from <paramref name="from"/> to <paramref name="to"/>: "grows", "falls", or
    /// "stays within 20 %" (differences that small are within what a shared machine varies between repeats).</summary>
    internal static string Direction(double from, double to) =>
        !(from > 0) || double.IsNaN(to) ? "is not measured" : to > 1.2 * from ? "grows" : to < from / 1.2 ? "falls" : "stays within 20 %";

    private static double Mean(IEnumerable<double> xs)
    {
        var a = xs.Where(double.IsFinite).ToArray();
        return a.Length == 0 ? double.NaN : a.Average();
    }

    /// <summary>Measures LRML's cost over the (N, d) grid: two training epochs each (the second is timed, the
    /// first warms up), sampled and full-ranking evaluation time, and model state size.</summary>
    public static ResultTable Cost(string dataset, DynamicsOptions options, ExperimentContext context)
    {
        var split = Experiment.GetSplit(dataset, null, new RunSpec { Dataset = dataset, Model = "lrml" }.SplitSeed,
            Experiment.DefaultProtocol(dataset, context) == "ncf" ? 99 : 100, context);
        var rows = new List<(string Column, object? Value)[]>();
        var engines = new SortedSet<string>(StringComparer.Ordinal);
        ComputeThreads.Set(options.Threads);
        foreach (var (n, d) in CostGrid(options.Profile))
        {
            context.Observer.Message($"cost: N={n}, d={d}");
            var built = ModelRegistry.Build("lrml", new ModelBuildContext
            {
                NumUsers = split.NumUsers, NumItems = split.NumItems, Train = split.Train, Seed = 1, Threads = options.Threads,
                Settings = [ConfigBinder.Pair<LrmlConfig>(c => c.Slots, n.ToString(CultureInfo.InvariantCulture)), ConfigBinder.Pair<LrmlConfig>(c => c.Dim, d.ToString(CultureInfo.InvariantCulture))],
            });
            engines.Add(built.Engine);
            using var model = built.Model;
            // one warm-up epoch, then the median of the timed ones; evaluations likewise (one measurement of a
            // sub-second evaluation on a shared machine once ran 2.5x slower at d = 25 than at d = 100)
            var trainer = new Trainer(new TrainConfig { Epochs = 1 + TimingRepeats, Seed = 1, Threads = options.Threads, EvalEvery = 0 });
            var outcome = trainer.Fit((ITrainableRecommender)model, split.Train, null);
            double sec = Median(outcome.Epochs.Skip(1).Select(e => e.TrainSeconds));
            double TimeEvaluation(CandidateMode mode) => Median(Enumerable.Range(0, TimingRepeats).Select(_ =>
            {
                var sw = Stopwatch.StartNew();
                Evaluator.Evaluate(model, split, EvalTarget.Test, new EvaluationOptions { Mode = mode, Threads = options.Threads });
                return sw.Elapsed.TotalSeconds;
            }).ToList());
            double sampled = split.TestNegatives is null ? double.NaN : TimeEvaluation(CandidateMode.Sampled);
            double full = TimeEvaluation(CandidateMode.Full);
            long parameters = (long)(split.NumUsers + split.NumItems) * d + 2L * n * d;
            double stateMb = ((ITrainableRecommender)model).SaveState().LongLength / (1024.0 * 1024.0);
            rows.Add([("slots N", n), ("dim d", d), ("s/epoch", sec), ("triples/s", split.Train.Count / sec),
                ("sampled eval s", sampled), ("full eval s", full), ("state MB", stateMb), ("params", parameters)]);
        }
        var t = new ResultTable($"LRML cost on {dataset} as N and d grow ({options.Threads} threads, {string.Join("/", engines)} engine, batch 1024)",
            "slots N", "dim d", "s/epoch", "triples/s", "sampled eval s", "full eval s", "state MB", "params");
        t.Format("s/epoch", "F2").Format("triples/s", "N0").Format("sampled eval s", "F2").Format("full eval s", "F2").Format("state MB", "F1").Format("params", "N0");
        foreach (var r in rows) t.AddRow(r);
        t.Notes.Add($"state MB: the serialised model and optimiser state (parameters and Adam moments). Times are medians of {TimingRepeats} " +
                    "repeats (training: epochs after one warm-up epoch); a shared machine still varies, and lrml bench measures more carefully.");
        return t;
    }

    /// <summary>Reads an epochs.jsonl log.</summary>
    public static IReadOnlyList<EpochRecord> ReadEpochs(string path)
    {
        var list = new List<EpochRecord>();
        if (!File.Exists(path)) return list;
        foreach (var line in File.ReadLines(path))
        {
            if (string.IsNullOrWhiteSpace(line)) continue;
            var o = System.Text.Json.Nodes.JsonNode.Parse(line)!.AsObject();
            Dictionary<string, double>? v = o["validation"] is System.Text.Json.Nodes.JsonObject vo
                ? vo.ToDictionary(kv => kv.Key, kv => (double)kv.Value!) : null;
            list.Add(new EpochRecord((int)o["epoch"]!, (double)o["loss"]!, (double)o["mean_loss"]!, (double)o["seconds"]!,
                (double)o["eval_seconds"]!, v, (bool)o["best"]!, (int)o["steps"]!) { Diagnostics = EpochDiagnosticsJson.Read(o) });
        }
        return list;
    }
}
