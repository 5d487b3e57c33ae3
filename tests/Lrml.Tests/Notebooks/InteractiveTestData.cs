using System.Text.Json.Nodes;
using Lrml.Evaluation;
using Lrml.Protocols;
using Lrml.Experiments;

namespace Lrml.Tests.Notebooks;

/// <summary>Small hand-made results for the formatter, DataFrame and chart tests.</summary>
internal static class InteractiveTestData
{
    public static RunResult Run(string model, long seed, double hr, double ndcg, int memories = 10, double? validationHr = null) => new()
    {
        Dataset = "ml-1m",
        Protocol = "ncf",
        Model = model,
        Config = new JsonObject { ["lrml"] = new JsonObject { ["memories"] = memories, ["dim"] = 64 }, ["lr"] = 0.001 },
        Seed = seed,
        Metrics = new SortedDictionary<string, double> { ["HR@10"] = hr, ["nDCG@10"] = ndcg },
        ValidationMetrics = validationHr is double v ? new SortedDictionary<string, double> { ["HR@10"] = v } : new(),
        TrainSeconds = 12.5,
        Epochs = 20,
        BestEpoch = 17,
        Commit = "abc1234",
        TestUsers = 6040,
    };

    public static EvaluationResult Evaluation() => new()
    {
        Target = EvalTarget.Test,
        Mode = CandidateMode.Sampled,
        ModelName = "LRML",
        MetricNames = ["HR@10", "nDCG@10"],
        Metrics = new Dictionary<string, double> { ["HR@10"] = 2.0 / 3, ["nDCG@10"] = 0.5 },
        Users = [3, 5, 8],
        PerUser = new Dictionary<string, double[]> { ["HR@10"] = [1, 0, 1], ["nDCG@10"] = [1, 0, 0.5] },
        SkippedUsers = 1,
        Seconds = 0.25,
    };
}
