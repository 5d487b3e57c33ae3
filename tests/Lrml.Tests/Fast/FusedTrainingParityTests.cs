using Lrml.Data;
using Lrml.Evaluation;
using Lrml.Models;
using Lrml.Fast;
using Lrml.Protocols;
using Lrml.Training;

namespace Lrml.Tests.Fast;

/// <summary>
/// End to end through the kit's own Trainer and Evaluator: the fused engine and the TorchSharp LrmlModel,
/// started from the same weights and fed the same batches, reach the same ranking metrics after training.
/// </summary>
[Collection("Torch models")]
public class FusedTrainingParityTests
{
    [Theory]
    [InlineData(OptimizerKind.LazyAdam)]
    [InlineData(OptimizerKind.Adam)]
    public void MetricsAfterTrainingMatchTorch(OptimizerKind opt)
    {
        var ds = SyntheticData.Generate(new SyntheticOptions { Users = 200, Items = 150, Seed = 3 });
        var split = LeaveLastOut.Build(ds.Data, seed: 1);
        var cfg = new LrmlConfig { Dim = 16, Slots = 4, Optimizer = opt, LearningRate = 0.01f, Margin = 0.5f };
        var init = LrmlParameters.Initialize(cfg, split.NumUsers, split.NumItems, seed: 5);
        var train = new TrainConfig { Epochs = 6, BatchSize = 128, EvalEvery = 0, Seed = 2, Threads = 2 };
        using var torchModel = new LrmlModel(cfg, init);
        using var fused = new LrmlFused(cfg, init, new FusedOptions { Threads = 2 });
        AssertSameTraining(torchModel, fused, split, train);
    }

    /// <summary>Trains a TorchSharp model and its fused twin (same initial weights) with the kit's Trainer and checks that every
    /// epoch's loss agrees within 0.2 %, every full-ranking test metric within 0.01, and that training helped.</summary>
    internal static void AssertSameTraining(ITrainableRecommender torchModel, ITrainableRecommender fused, Split split, TrainConfig train)
    {
        var eval = new EvaluationOptions { Mode = CandidateMode.Full, Ks = [10] };
        double before = Evaluator.Evaluate(fused, split, EvalTarget.Test, eval).Metrics["nDCG@10"];
        var lossTorch = new Trainer(train).Fit(torchModel, split.Train, null, TestContext.Current.CancellationToken).Epochs.Select(e => e.Loss).ToArray();
        var lossFused = new Trainer(train).Fit(fused, split.Train, null, TestContext.Current.CancellationToken).Epochs.Select(e => e.Loss).ToArray();
        var a = Evaluator.Evaluate(torchModel, split, EvalTarget.Test, eval);
        var b = Evaluator.Evaluate(fused, split, EvalTarget.Test, eval);
        for (int e = 0; e < lossTorch.Length; e++)
            Assert.True(Math.Abs(lossTorch[e] - lossFused[e]) <= 2e-3 * lossTorch[e], $"epoch {e + 1}: loss torch {lossTorch[e]:R}, fused {lossFused[e]:R}");
        foreach (var (name, value) in a.Metrics)
            Assert.True(Math.Abs(value - b.Metrics[name]) <= 0.01, $"{name}: torch {value:F4}, fused {b.Metrics[name]:F4}");
        Assert.True(b.Metrics["nDCG@10"] > before + 0.02, $"training must help: nDCG@10 {before:F4} → {b.Metrics["nDCG@10"]:F4}");
    }
}
