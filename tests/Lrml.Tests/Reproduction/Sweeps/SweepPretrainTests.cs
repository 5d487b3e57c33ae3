using System.Text.Json.Nodes;
using Lrml.Data;
using Lrml.Experiments;
using Lrml.Reproduction.Sweeps;
using Lrml.Models;
using Lrml.Training;

namespace Lrml.Tests.Reproduction.Sweeps;

/// <summary>NeuMF pre-training through the experiment path: GMF and MLP runs first, then NeuMF from their best states.</summary>
[Collection("Torch models")]
public class SweepPretrainTests
{
    private static RunSpec Spec(string model, params string[] settings) => new()
    {
        Dataset = "synthetic", Model = model, Settings = ConfigBinder.ParsePairs(settings),
        Train = new TrainConfig { Epochs = 1, BatchSize = 1024, NegativesPerPositive = 2, Seed = 5, Threads = 1 },
    };

    [Fact]
    public void NeuMfStartsAsTheHalfMixOfTheTrainedGmfAndMlp()
    {
        string root = Directory.CreateTempSubdirectory("lrml-pre").FullName;
        var ctx = new ExperimentContext { Data = new DataDirectory(Path.Combine(root, "no-data")), ResultsRoot = root };
        var outcome = NcfPretraining.Run(Spec("neumf", "dim=4", "layers=8,4", "optimizer=sgd"), Spec("gmf", "dim=4"), Spec("mlp", "layers=8,4"),
            ctx, Path.Combine(root, "pre"));
        string g = Path.Combine(root, "pre", "gmf"), m = Path.Combine(root, "pre", "mlp");
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(root, "pre", "neumf", "config.json")))!["model"]!;
        Assert.Equal(g + "," + m, (string?)config["pretrain"]);
        Assert.Equal("sgd", (string?)config["optimizer"]);
        Assert.InRange(outcome.Result.Metrics["HR@10"], 0, 1);

        // the registry path builds NeuMF from the two runs' best checkpoints: z = ½ z_GMF + ½ z_MLP before any NeuMF step
        var split = Experiment.GetSplit("synthetic", null, new RunSpec { Dataset = "", Model = "" }.SplitSeed, 100, ctx);
        var build = new ModelBuildContext
        {
            NumUsers = split.NumUsers, NumItems = split.NumItems, Train = split.Train, Seed = 1, Threads = 1,
            Settings = ConfigBinder.ParsePairs(["dim=4", "layers=8,4", $"pretrain={g},{m}"]),
        };
        using var neumf = ModelRegistry.Build("neumf", build).Model;
        Assert.Equal("fused", (string?)JsonNode.Parse(File.ReadAllText(Path.Combine(g, "config.json")))!["model"]!["engine"]);   // GMF's CPU default
        using var gmf = NeuMfModel.LoadGmf(g, build, TorchSharp.torch.CPU);
        Assert.Equal("fused", (string?)JsonNode.Parse(File.ReadAllText(Path.Combine(m, "config.json")))!["model"]!["engine"]);   // MLP's CPU default
        using var mlp = NeuMfModel.LoadMlp(m, build, TorchSharp.torch.CPU);
        int[] users = [0, 5, 17], items = [3, 9, 1];
        float[] zn = new float[3], zg = new float[3], zm = new float[3];
        neumf.ScorePairs(users, items, zn); gmf.ScorePairs(users, items, zg); mlp.ScorePairs(users, items, zm);
        for (int x = 0; x < 3; x++) Assert.Equal(0.5 * zg[x] + 0.5 * zm[x], zn[x], 5);

        // sizes and splits must match
        Assert.Throws<ArgumentException>(() => ModelRegistry.Build("neumf", new ModelBuildContext
        {
            NumUsers = split.NumUsers, NumItems = split.NumItems, Train = split.Train, Seed = 1, Threads = 1,
            Settings = ConfigBinder.ParsePairs(["dim=8", "layers=8,4", $"pretrain={g},{m}"]),
        }));
        Assert.Throws<ArgumentException>(() => ModelRegistry.Build("neumf", new ModelBuildContext
        {
            NumUsers = split.NumUsers, NumItems = split.NumItems, Train = split.Validation, Seed = 1, Threads = 1,
            Settings = ConfigBinder.ParsePairs(["dim=4", "layers=8,4", $"pretrain={g},{m}"]),
        }));
        Assert.Throws<ArgumentException>(() => ModelRegistry.Build("neumf", build.WithSettings(["dim=4", "layers=8,4", $"pretrain={m},{g}"])));
    }
}

internal static class BuildContextExtensions
{
    public static ModelBuildContext WithSettings(this ModelBuildContext c, string[] settings) => new()
    {
        NumUsers = c.NumUsers, NumItems = c.NumItems, Train = c.Train, Seed = c.Seed, Threads = c.Threads, Settings = ConfigBinder.ParsePairs(settings),
    };
}
