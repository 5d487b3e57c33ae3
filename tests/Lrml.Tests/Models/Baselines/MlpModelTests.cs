using Lrml.Models;
using Lrml.Util;
using TorchSharp;
using static Lrml.Tests.Models.ModelTestSupport;
using static TorchSharp.torch;

namespace Lrml.Tests.Models;

/// <summary>MLP: forward pass and loss against hand arithmetic, gradients by finite differences, scoring, state, leaks.</summary>
[Collection("Torch models")]
public class MlpModelTests
{
    [Fact]
    public void ForwardWorkedByHand()
    {
        // user 0, item 1: x = [0.5, −0.3, −0.6, 0.2]
        // layer 1: W₁x + b₁ = [0.2+0.06−0.18+0.02, −0.25−0.18−0.12−0.06, 0.1−0.09+0.24+0.1] + [0.05, −0.02, 0.015]
        //        = [0.15, −0.63, 0.365]  → ReLU [0.15, 0, 0.365]
        // layer 2: [0.7·0.15 + 0.3·0.365 + 0.03, −0.2·0.15 + 0.6·0.365 + 0.02] = [0.2445, 0.209]
        // z = 0.9·0.2445 + 0.4·0.209 + 0.1 = 0.40365
        var w = NcfHand.Tiny(gmf: false, mlp: true);
        using var model = new MlpModel(new MlpConfig { Layers = NcfHand.TinyLayers }, w, dtype: ScalarType.Float64);
        var s = new float[1];
        model.ScorePairs([0], [1], s);
        Assert.Equal(0.40365, s[0], 5);
        Assert.Equal(NcfHand.Logit(w, 0, NcfHand.TinyLayers, 0, 1), s[0], 5);
    }

    [Fact]
    public void LossAndGradientsMatchHandArithmeticAndFiniteDifferences()
    {
        var w = NcfHand.Tiny(gmf: false, mlp: true);
        using var model = new MlpModel(new MlpConfig { Layers = NcfHand.TinyLayers, L2 = 0.1f }, w, dtype: ScalarType.Float64);
        var batch = Batch([0, 1], [1, 2], [0, 2, 1, 0]);
        Assert.Equal(NcfHand.Loss(w, 0, NcfHand.TinyLayers, batch, 0.1, LossReduction.Mean), model.Core.ComputeGradients(batch).Loss, 6);
        NcfHand.CheckGradients(model.Core, batch);
    }

    [Fact]
    public void ScoreAllSplitsTheFirstLayerExactly()
    {
        using var a = new MlpModel(new MlpConfig { Layers = [6, 5, 3] }, 6, 5, seed: 2);
        var rng = new Rng(7, "mlp.state");
        for (int s = 0; s < 3; s++) a.TrainStep(RandomBatch(rng, 8, 4, 6, 5));
        a.ScoreBudget = 5 * 2;                                               // 2 pairs per chunk at width 5
        var all = new float[2 * 5]; var pairs = new float[10];
        a.ScoreAllItems([4, 1], all);
        a.ScorePairs([4, 4, 4, 4, 4, 1, 1, 1, 1, 1], [0, 1, 2, 3, 4, 0, 1, 2, 3, 4], pairs);
        for (int x = 0; x < 10; x++) Assert.Equal(pairs[x], all[x], 5);
        using var b = new MlpModel(new MlpConfig { Layers = [6, 5, 3] }, 6, 5, seed: 9);
        b.LoadState(a.SaveState());
        var batch = RandomBatch(rng, 8, 4, 6, 5);
        Assert.Equal(a.TrainStep(batch), b.TrainStep(batch), 1e-6);
    }

    [Fact]
    public void TrainingLeaksNoTensors()
    {
        using var model = new MlpModel(new MlpConfig { Layers = [8, 4] }, 9, 7, seed: 1);
        var rng = new Rng(8, "mlp.leak");
        model.TrainStep(RandomBatch(rng, 8, 4, 9, 7));
        long live = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        for (int s = 0; s < 40; s++) model.TrainStep(RandomBatch(rng, 8, 4, 9, 7));
        model.ScoreAllItems([1, 2], new float[14]);
        Assert.Equal(live, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
    }
}
