using System.Diagnostics;
using System.Globalization;
using Lrml.Data;
using Lrml.Evaluation;
using Lrml.Models;
using Lrml.Training;

namespace Lrml.Experiments.Reproduction;

/// <summary>Options of the training-dynamics and cost study.</summary>
public sealed record DynamicsOptions
{
    public Profile Profile { get; init; } = Profile.Quick;
    /// <summary>Dataset for the curves and the cost grid (null: ml-1m in full, ml-100k in quick, synthetic when absent).</summary>
    public string? Dataset { get; init; }
    public int Threads { get; init; } = 2;
    /// <summary>Models whose curves are drawn (null: every model with a preset).</summary>
    public IReadOnlyList<string>? Models { get; init; }
}

/// <summary>Curves (one row per model and epoch) and the cost grid (one row per N or d).</summary>
public sealed record DynamicsReport(string Dataset, ResultTable Curves, ResultTable Cost, string OutputDirectory);

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
        int[] slots = profile.Name == "quick" ? [1, 10, 50] : [1, 5, 10, 20, 50, 100];
        int[] dims = profile.Name == "quick" ? [25, 100] : [25, 50, 100, 200];
        var grid = slots.Select(n => (n, 100)).ToList();
        grid.AddRange(dims.Where(d => d != 100).Select(d => (20, d)));
        return grid;
    }

    public static DynamicsReport Run(DynamicsOptions options, ExperimentContext context)
    {
        string dataset = DefaultDataset(options, context);
        string outDir = Path.Combine(context.ResultsRoot, "reproduce", "dynamics", options.Profile.Name, dataset);
        var curves = new ResultTable($"Training curves on {dataset} (seed 1, no early stopping)",
            "model", "epoch", "mean loss", "validation nDCG@10", "validation HR@10", "seconds");
        curves.Format("mean loss", "F5").Format("validation nDCG@10", "F4").Format("validation HR@10", "F4").Format("seconds", "F2");
        foreach (var model in options.Models ?? Presets.Models)
        {
            if (model == "pop" || !ModelRegistry.All.Any(e => e.Name == model)) continue;
            var preset = Presets.Get(model, dataset);
            var spec = Presets.Spec(preset, options.Profile with { Patience = 0 }, 1, options.Threads);
            spec = spec with { Train = spec.Train with { Patience = 0 }, FullRanking = false };
            var run = RunStore.RunOrLoad(spec, context, Path.Combine(outDir, "runs", model));
            foreach (var e in ReadEpochs(Path.Combine(run.Directory, "epochs.jsonl")))
                curves.AddRow(("model", run.Result.Model), ("epoch", e.Epoch), ("mean loss", e.MeanLoss),
                    ("validation nDCG@10", e.Validation?.GetValueOrDefault("nDCG@10", double.NaN) ?? double.NaN),
                    ("validation HR@10", e.Validation?.GetValueOrDefault("HR@10", double.NaN) ?? double.NaN), ("seconds", e.TrainSeconds));
        }
        var cost = Cost(dataset, options, context);
        Directory.CreateDirectory(outDir);
        curves.Save(outDir, "curves");
        cost.Save(outDir, "cost");
        return new DynamicsReport(dataset, curves, cost, outDir);
    }

    /// <summary>Measures LRML's cost over the (N, d) grid: two training epochs each (the second is timed, the
    /// first warms up), sampled and full-ranking evaluation time, and model state size.</summary>
    public static ResultTable Cost(string dataset, DynamicsOptions options, ExperimentContext context)
    {
        var split = Experiment.GetSplit(dataset, null, new RunSpec { Dataset = dataset, Model = "lrml" }.SplitSeed,
            Experiment.DefaultProtocol(dataset, context) == "ncf" ? 99 : 100, context);
        var t = new ResultTable($"LRML cost on {dataset} as N and d grow ({options.Threads} threads, fused CPU engine, batch 1024)",
            "slots N", "dim d", "s/epoch", "triples/s", "sampled eval s", "full eval s", "state MB", "params");
        t.Format("s/epoch", "F2").Format("triples/s", "N0").Format("sampled eval s", "F2").Format("full eval s", "F2").Format("state MB", "F1").Format("params", "N0");
        ComputeThreads.Set(options.Threads);
        foreach (var (n, d) in CostGrid(options.Profile))
        {
            context.Observer.Message($"cost: N={n}, d={d}");
            var built = ModelRegistry.Build("lrml", new ModelBuildContext
            {
                NumUsers = split.NumUsers, NumItems = split.NumItems, Train = split.Train, Seed = 1, Threads = options.Threads,
                Settings = [new("slots", n.ToString(CultureInfo.InvariantCulture)), new("dim", d.ToString(CultureInfo.InvariantCulture))],
            });
            using var model = built.Model;
            var trainer = new Trainer(new TrainConfig { Epochs = 2, Seed = 1, Threads = options.Threads, EvalEvery = 0 });
            var outcome = trainer.Fit((ITrainableRecommender)model, split.Train, null);
            double sec = outcome.Epochs[^1].TrainSeconds;
            var sw = Stopwatch.StartNew();
            if (split.TestNegatives is not null) Evaluator.Evaluate(model, split, EvalTarget.Test, new EvaluationOptions { Mode = CandidateMode.Sampled, Threads = options.Threads });
            double sampled = sw.Elapsed.TotalSeconds;
            sw.Restart();
            Evaluator.Evaluate(model, split, EvalTarget.Test, new EvaluationOptions { Mode = CandidateMode.Full, Threads = options.Threads });
            double full = sw.Elapsed.TotalSeconds;
            long parameters = (long)(split.NumUsers + split.NumItems) * d + 2L * n * d;
            double stateMb = ((ITrainableRecommender)model).SaveState().LongLength / (1024.0 * 1024.0);
            t.AddRow(("slots N", n), ("dim d", d), ("s/epoch", sec), ("triples/s", split.Train.Count / sec),
                ("sampled eval s", sampled), ("full eval s", full), ("state MB", stateMb), ("params", parameters));
        }
        t.Notes.Add("state MB: the serialised model and optimiser state (parameters and Adam moments). Timings on a shared machine vary; " +
                    "the benchmark command (lrml bench) takes medians over repeats.");
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
                (double)o["eval_seconds"]!, v, (bool)o["best"]!, (int)o["steps"]!));
        }
        return list;
    }
}
