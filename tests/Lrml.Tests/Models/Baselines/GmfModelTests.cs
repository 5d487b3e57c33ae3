using Lrml.Models;
using Lrml.Util;
using TorchSharp;
using static Lrml.Tests.Models.ModelTestSupport;
using static TorchSharp.torch;

namespace Lrml.Tests.Models;

/// <summary>GMF: the logit and log loss worked by hand, gradients by finite differences, scoring, state, leaks.</summary>
[Collection("Torch models")]
public class GmfModelTests
{
    [Fact]
    public void LogitAndLossWorkedByHand()
    {
        // z(0,0) = 0.8·(0.3·0.2) − 0.6·(−0.2·0.1) + 0.1 = 0.048 + 0.012 + 0.1 = 0.16
        // z(0,2) = 0.8·(0.3·0.6) − 0.6·(−0.2·−0.5) + 0.1 = 0.144 − 0.06 + 0.1 = 0.184
        var w = NcfHand.Tiny(gmf: true, mlp: false);
        using var model = new GmfModel(new GmfConfig { Dim = 2 }, w, dtype: ScalarType.Float64);
        var s = new float[2];
        model.ScorePairs([0, 0], [0, 2], s);
        Assert.Equal(0.16, s[0], 6);
        Assert.Equal(0.184, s[1], 6);
        // one positive (0,0), one negative (0,2): mean of softplus(−0.16) and softplus(0.184)
        var (loss, summed, _) = model.Core.ComputeGradients(Batch([0], [0], [2]));
        double expected = Math.Log(1 + Math.Exp(-0.16)) + Math.Log(1 + Math.Exp(0.184));
        Assert.Equal(expected / 2, loss, 5);
        Assert.Equal(expected, summed, 5);
    }

    [Theory]
    [InlineData(LossReduction.Mean, 0f)]
    [InlineData(LossReduction.Sum, 0.2f)]
    public void GradientsMatchFiniteDifferences(LossReduction reduction, float l2)
    {
        var w = NcfHand.Tiny(gmf: true, mlp: false);
        using var model = new GmfModel(new GmfConfig { Dim = 2, Reduction = reduction, L2 = l2 }, w, dtype: ScalarType.Float64);
        var batch = Batch([0, 1, 1], [0, 2, 1], [1, 2, 0, 0, 2, 1]);
        Assert.Equal(NcfHand.Loss(w, 2, null, batch, l2, reduction), model.Core.ComputeGradients(batch).Loss, 6);
        NcfHand.CheckGradients(model.Core, batch);
    }

    [Fact]
    public void ScoreAllMatchesPairsAndStateRoundTrips()
    {
        using var a = new GmfModel(new GmfConfig { Dim = 3 }, 6, 5, seed: 2);
        var rng = new Rng(7, "gmf.state");
        for (int s = 0; s < 3; s++) a.TrainStep(RandomBatch(rng, 8, 4, 6, 5));
        a.ScoreBudget = 4;
        var all = new float[2 * 5]; var pairs = new float[10];
        a.ScoreAllItems([4, 1], all);
        a.ScorePairs([4, 4, 4, 4, 4, 1, 1, 1, 1, 1], [0, 1, 2, 3, 4, 0, 1, 2, 3, 4], pairs);
        for (int x = 0; x < 10; x++) Assert.Equal(pairs[x], all[x], 5);
        using var b = new GmfModel(new GmfConfig { Dim = 3 }, 6, 5, seed: 9);
        b.LoadState(a.SaveState());
        var batch = RandomBatch(rng, 8, 4, 6, 5);
        Assert.Equal(a.TrainStep(batch), b.TrainStep(batch), 1e-6);
        AssertClose(a.ExportWeights().GmfP!.Select(v => (double)v).ToArray(), b.ExportWeights().GmfP!.Select(v => (double)v).ToArray(), 1e-6, "P");
    }

    [Fact]
    public void TrainingLeaksNoTensors()
    {
        using var model = new GmfModel(new GmfConfig { Dim = 4, Optimizer = OptimizerKind.Sgd, LearningRate = 0.1f }, 9, 7, seed: 1);
        var rng = new Rng(8, "gmf.leak");
        model.TrainStep(RandomBatch(rng, 8, 4, 9, 7));
        long live = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        for (int s = 0; s < 40; s++) model.TrainStep(RandomBatch(rng, 8, 4, 9, 7));
        model.ScoreAllItems([1, 2], new float[14]);
        Assert.Equal(live, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
    }
}
