using Lrml.Models;
using Lrml.Util;
using TorchSharp;
using static Lrml.Tests.Models.ModelTestSupport;
using static TorchSharp.torch;

namespace Lrml.Tests.Models;

/// <summary>
/// The NCF models written out in plain double arithmetic from the NCF paper's formulas (§3.2–3.4) — loops, no torch — to
/// check GMF, MLP and NeuMF against.
/// </summary>
internal static class NcfHand
{
    public static double[] Row(float[] t, int row, int d) => Enumerable.Range(0, d).Select(j => (double)t[row * d + j]).ToArray();

    /// <summary>z = hᵀ[p_u ⊙ q_i ; MLP(p'_u, q'_i)] + b.</summary>
    public static double Logit(NcfWeights w, int gmfDim, int[]? layers, int u, int i)
    {
        var parts = new List<double>();
        if (w.GmfP is not null)
        {
            var p = Row(w.GmfP, u, gmfDim); var q = Row(w.GmfQ!, i, gmfDim);
            for (int j = 0; j < gmfDim; j++) parts.Add(p[j] * q[j]);
        }
        if (w.MlpP is not null)
        {
            int e = layers![0] / 2;
            var x = Row(w.MlpP, u, e).Concat(Row(w.MlpQ!, i, e)).ToArray();
            for (int l = 1; l < layers.Length; l++)
            {
                var y = new double[layers[l]];
                for (int o = 0; o < layers[l]; o++)
                {
                    double s = w.B[l - 1][o];
                    for (int a = 0; a < layers[l - 1]; a++) s += w.W[l - 1][o * layers[l - 1] + a] * x[a];
                    y[o] = Math.Max(0, s);
                }
                x = y;
            }
            parts.AddRange(x);
        }
        double z = w.HBias;
        for (int j = 0; j < parts.Count; j++) z += w.H[j] * parts[j];
        return z;
    }

    public static double Softplus(double x) => x > 0 ? x + Math.Log(1 + Math.Exp(-x)) : Math.Log(1 + Math.Exp(x));

    /// <summary>Σ −log σ(z⁺) + Σ −log σ(−z⁻) (+ λ per-example squared embedding norms), then mean or sum.</summary>
    public static double Loss(NcfWeights w, int gmfDim, int[]? layers, TrainingBatch b, double l2, LossReduction reduction)
    {
        int k = b.NegativesPerPositive;
        double s = 0, reg = 0;
        double Norms(int u, int i)
        {
            double r = 0;
            if (w.GmfP is not null) r += Row(w.GmfP, u, gmfDim).Sum(v => v * v) + Row(w.GmfQ!, i, gmfDim).Sum(v => v * v);
            if (w.MlpP is not null) { int e = layers![0] / 2; r += Row(w.MlpP, u, e).Sum(v => v * v) + Row(w.MlpQ!, i, e).Sum(v => v * v); }
            return r;
        }
        for (int x = 0; x < b.Count; x++)
        {
            int u = b.Users[x];
            s += Softplus(-Logit(w, gmfDim, layers, u, b.Positives[x]));
            reg += Norms(u, b.Positives[x]);
            for (int j = 0; j < k; j++)
            {
                int neg = b.Negatives[x * k + j];
                s += Softplus(Logit(w, gmfDim, layers, u, neg));
                reg += Norms(u, neg);
            }
        }
        double total = s + l2 * reg;
        return reduction == LossReduction.Mean ? total / (b.Count * (1 + k)) : total;
    }

    /// <summary>Finite differences of the core's optimised loss w.r.t. every trainable tensor, compared with its gradients.</summary>
    public static void CheckGradients(NcfCore core, TrainingBatch batch, double tol = 1e-6)
    {
        var (_, _, grads) = core.ComputeGradients(batch);
        foreach (var (name, p) in core.Net.Trainable())
        {
            var fd = FiniteDifferences(p, () => core.ComputeGradients(batch).Loss);
            AssertClose(fd, grads[name], tol, "dL/d" + name);
        }
    }

    /// <summary>A tiny GMF+MLP weight set with hand-picked values (2 users, 3 items, GMF d = 2, MLP [4, 3, 2]).</summary>
    public static NcfWeights Tiny(bool gmf, bool mlp)
    {
        float[] gp = [0.3f, -0.2f, 0.1f, 0.5f], gq = [0.2f, 0.1f, -0.4f, 0.3f, 0.6f, -0.5f];
        float[] mp = [0.5f, -0.3f, 0.2f, 0.4f], mq = [0.1f, 0.7f, -0.6f, 0.2f, 0.3f, -0.1f];
        float[] w1 = [0.4f, -0.2f, 0.3f, 0.1f, -0.5f, 0.6f, 0.2f, -0.3f, 0.2f, 0.3f, -0.4f, 0.5f], b1 = [0.05f, -0.02f, 0.015f];   // no pre-activation of any tiny pair sits at a ReLU kink
        float[] w2 = [0.7f, -0.4f, 0.3f, -0.2f, 0.5f, 0.6f], b2 = [0.03f, 0.02f];
        var h = new List<float>();
        if (gmf) h.AddRange([0.8f, -0.6f]);
        if (mlp) h.AddRange([0.9f, 0.4f]);
        return new NcfWeights(2, 3, gmf ? gp : null, gmf ? gq : null, mlp ? mp : null, mlp ? mq : null,
            mlp ? [w1, w2] : [], mlp ? [b1, b2] : [], h.ToArray(), 0.1f);
    }

    public static readonly int[] TinyLayers = [4, 3, 2];
}

/// <summary>NeuMF: forward, loss and gradients against hand arithmetic; NCF pre-training fusion; scoring; state; leaks.</summary>
[Collection("Torch models")]
public class NeuMfModelTests
{
    private static NeuMfConfig TinyConfig(LossReduction r = LossReduction.Mean, float l2 = 0) =>
        new() { Dim = 2, Layers = NcfHand.TinyLayers, Reduction = r, L2 = l2 };

    [Theory]
    [InlineData(LossReduction.Mean, 0.0)]
    [InlineData(LossReduction.Sum, 0.0)]
    [InlineData(LossReduction.Mean, 0.3)]
    public void LossAndGradientsMatchHandArithmeticAndFiniteDifferences(LossReduction reduction, double l2)
    {
        var w = NcfHand.Tiny(gmf: true, mlp: true);
        using var model = new NeuMfModel(TinyConfig(reduction, (float)l2), w, dtype: ScalarType.Float64);
        var batch = Batch([0, 1, 0], [0, 2, 1], [1, 2, 0, 1, 2, 0]);
        var (loss, summed, _) = model.Core.ComputeGradients(batch);
        Assert.Equal(NcfHand.Loss(w, 2, NcfHand.TinyLayers, batch, (float)l2, reduction), loss, 5);
        Assert.Equal(NcfHand.Loss(w, 2, NcfHand.TinyLayers, batch, 0, LossReduction.Sum), summed, 5);
        NcfHand.CheckGradients(model.Core, batch);
    }

    [Fact]
    public void ScoresAreTheLogitsAndScoreAllMatchesPairs()
    {
        var w = NcfHand.Tiny(gmf: true, mlp: true);
        using var model = new NeuMfModel(TinyConfig(), w, dtype: ScalarType.Float64);
        var s = new float[6];
        int[] users = [0, 0, 0, 1, 1, 1], items = [0, 1, 2, 0, 1, 2];
        model.ScorePairs(users, items, s);
        for (int x = 0; x < 6; x++) Assert.Equal(NcfHand.Logit(w, 2, NcfHand.TinyLayers, users[x], items[x]), s[x], 5);
        model.ScoreBudget = 2 * 3;                                         // chunks of 2 pairs
        var all = new float[6];
        model.ScoreAllItems([0, 1], all);
        for (int x = 0; x < 6; x++) Assert.Equal(s[x], all[x], 5);
    }

    [Fact]
    public void PretrainedNeuMfIsTheAlphaMixOfItsGmfAndMlp()
    {
        // NCF §3.4.1: h = [α h_GMF ; (1−α) h_MLP] and b = α b_GMF + (1−α) b_MLP, so z_NeuMF = α z_GMF + (1−α) z_MLP exactly.
        var wg = NcfHand.Tiny(gmf: true, mlp: false) with { HBias = 0.3f };
        var wm = NcfHand.Tiny(gmf: false, mlp: true) with { HBias = -0.2f };
        using var gmf = new GmfModel(new GmfConfig { Dim = 2 }, wg, dtype: ScalarType.Float64);
        using var mlp = new MlpModel(new MlpConfig { Layers = NcfHand.TinyLayers }, wm, dtype: ScalarType.Float64);
        foreach (float alpha in new[] { 0.5f, 0.2f })
        {
            using var neumf = NeuMfModel.FromPretrained(TinyConfig() with { PretrainAlpha = alpha }, gmf, mlp, dtype: ScalarType.Float64);
            int[] users = [0, 1, 1], items = [2, 0, 1];
            float[] zg = new float[3], zm = new float[3], zn = new float[3];
            gmf.ScorePairs(users, items, zg); mlp.ScorePairs(users, items, zm); neumf.ScorePairs(users, items, zn);
            for (int x = 0; x < 3; x++) Assert.Equal(alpha * zg[x] + (1 - alpha) * zm[x], zn[x], 5);
            var fused = neumf.ExportWeights();
            Assert.Equal(alpha * 0.3f + (1 - alpha) * -0.2f, fused.HBias, 6);
            Assert.Equal(wm.W[1], fused.W[1]);                             // hidden layers copied
        }
        Assert.Throws<ArgumentException>(() => NeuMfModel.FromPretrained(TinyConfig() with { Dim = 3 }, gmf, mlp));
        Assert.Throws<ArgumentException>(() => NeuMfModel.FromPretrained(TinyConfig() with { Layers = [4, 2] }, gmf, mlp));
    }

    [Fact]
    public void InitialisationFollowsNcfCode()
    {
        var w = NcfWeights.Init(300, 200, 8, [64, 32, 16, 8], seed: 4);
        double Std(float[] a) => Math.Sqrt(a.Average(v => (double)v * v));
        Assert.InRange(Std(w.GmfP!), 0.009, 0.011);                          // N(0, 0.01²)
        Assert.InRange(Std(w.MlpQ!), 0.009, 0.011);
        Assert.Equal(300 * 32, w.MlpP!.Length);                              // embedding = layers[0]/2
        double glorot = Math.Sqrt(6.0 / (64 + 32));
        Assert.True(w.W[0].All(v => Math.Abs(v) <= glorot) && w.W[0].Max(Math.Abs) > 0.9 * glorot);
        Assert.Equal(16, w.H.Length);                                        // GMF 8 + MLP 8 predictive factors
        Assert.True(w.H.All(v => Math.Abs(v) <= Math.Sqrt(3.0 / 16)));       // LeCun uniform
        Assert.All(w.B, b => Assert.All(b, v => Assert.Equal(0f, v)));
        Assert.Equal(w.GmfP, NcfWeights.Init(300, 200, 8, [64, 32, 16, 8], seed: 4).GmfP);
    }

    [Fact]
    public void SaveLoadRoundTripReproducesScoresAndTheNextStep()
    {
        var config = new NeuMfConfig { Dim = 4, Layers = [8, 4] };
        var rng = new Rng(5, "neumf.state");
        var batches = Enumerable.Range(0, 5).Select(_ => RandomBatch(rng, 8, 2, 9, 7)).ToArray();
        using var a = new NeuMfModel(config, 9, 7, seed: 1);
        for (int s = 0; s < 3; s++) a.TrainStep(batches[s]);
        using var b = new NeuMfModel(config, 9, 7, seed: 2);
        b.LoadState(a.SaveState());
        var sa = new float[2 * 7]; var sb = new float[2 * 7];
        a.ScoreAllItems([3, 8], sa); b.ScoreAllItems([3, 8], sb);
        AssertClose(sa.Select(v => (double)v).ToArray(), sb.Select(v => (double)v).ToArray(), 1e-6, "scores");   // same weights; BLAS may differ in the last bit
        for (int s = 3; s < 5; s++) Assert.Equal(a.TrainStep(batches[s]), b.TrainStep(batches[s]), 1e-5);
        Assert.Throws<InvalidDataException>(() => new NeuMfModel(config with { Dim = 5 }, 9, 7, seed: 1).LoadState(a.SaveState()));
        Assert.Throws<InvalidDataException>(() => new GmfModel(new GmfConfig { Dim = 4 }, 9, 7, seed: 1).LoadState(a.SaveState()));
    }

    [Fact]
    public void TrainingReducesTheLossAndLeaksNoTensors()
    {
        using var model = new NeuMfModel(new NeuMfConfig { Dim = 4, Layers = [8, 4], LearningRate = 0.01f }, 9, 7, seed: 1);
        var rng = new Rng(6, "neumf.leak");
        var fixedBatch = RandomBatch(rng, 16, 4, 9, 7);
        double first = model.TrainStep(fixedBatch);
        long live = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        for (int s = 0; s < 60; s++) model.TrainStep(fixedBatch);
        model.ScoreAllItems([1, 2], new float[14]);
        model.ScorePairs([1], [2], new float[1]);
        Assert.Equal(live, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
        Assert.True(model.TrainStep(fixedBatch) < 0.8 * first);
    }

    [Fact]
    public void ConfigRejectsWhatNcfCannotRun()
    {
        Assert.Throws<ArgumentException>(() => new NeuMfConfig { Layers = [63, 8] }.Validate());
        new NeuMfConfig { Optimizer = OptimizerKind.LazyAdam }.Validate();   // the fused engine runs it; the TorchSharp model does not
        Assert.Contains("fused CPU engine only", Assert.Throws<ArgumentException>(() => new NeuMfModel(new NeuMfConfig { Optimizer = OptimizerKind.LazyAdam }, 3, 4, seed: 1)).Message);
        Assert.Throws<ArgumentException>(() => new NeuMfConfig { Pretrain = "only-one-dir" }.Validate());
        Assert.Throws<ArgumentException>(() => new NeuMfConfig { PretrainAlpha = 1.5f }.Validate());
    }
}
