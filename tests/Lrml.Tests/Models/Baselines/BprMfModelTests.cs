using Lrml.Models;
using Lrml.Util;
using TorchSharp;
using static Lrml.Tests.Models.ModelTestSupport;
using static TorchSharp.torch;

namespace Lrml.Tests.Models;

/// <summary>BPR-MF loss, gradients and scores against hand arithmetic.</summary>
[Collection("Torch models")]
public class BprMfModelTests
{
    private static readonly float[] TinyP = [0.3f, -0.2f, 0.1f, 0.5f];
    private static readonly float[] TinyQ = [0.2f, 0.1f, -0.4f, 0.3f, 0.6f, -0.5f];
    private static readonly float[] TinyB = [0.1f, -0.2f, 0.05f];

    private static BprMfModel Tiny(bool bias, OptimizerKind opt = OptimizerKind.Adam, float l2 = 0.1f) =>
        new(new BprConfig { Dim = 2, ItemBias = bias, Optimizer = opt, L2 = l2 }, 2, 3, TinyP, TinyQ, bias ? TinyB : null, dtype: ScalarType.Float64);

    private static double X(int u, int i, bool bias) =>
        (double)TinyP[u * 2] * TinyQ[i * 2] + (double)TinyP[u * 2 + 1] * TinyQ[i * 2 + 1] + (bias ? TinyB[i] : 0);

    private static double Sigmoid(double z) => 1 / (1 + Math.Exp(-z));

    [Fact]
    public void LossOfOneTripleWorkedByHand()
    {
        // x_00 = 0.06 − 0.02 = 0.04, x_02 = 0.18 + 0.10 = 0.28 → −ln σ(−0.24) = ln(1 + e^0.24) = 0.8380..;
        // L2 with λ = 0.1: 0.05·(‖p0‖² + ‖q0‖² + ‖q2‖²) = 0.05·(0.13 + 0.05 + 0.61) = 0.0395
        using var model = Tiny(bias: false);
        Assert.Equal(Math.Log(1 + Math.Exp(0.24)) + 0.0395, model.ComputeGradients(Batch([0], [0], [2])).Loss, 6);
    }

    [Theory]
    [InlineData(false, OptimizerKind.Adam, 1)]
    [InlineData(true, OptimizerKind.Adam, 1)]
    [InlineData(true, OptimizerKind.Adam, 2)]
    [InlineData(true, OptimizerKind.LazyAdam, 2)]
    [InlineData(false, OptimizerKind.Sgd, 2)]
    public void LossAndGradientsMatchTheAnalyticFormula(bool bias, OptimizerKind opt, int k)
    {
        const double lambda = 0.1;
        var batch = k == 1 ? Batch([0, 1, 0], [0, 1, 1], [2, 0, 2]) : Batch([0, 1, 0], [0, 1, 1], [1, 2, 2, 0, 2, 0]);
        using var model = Tiny(bias, opt);
        double expLoss = 0;
        var ep = new double[4]; var eq = new double[6]; var eb = new double[3];
        for (int x = 0; x < batch.Count; x++)
            for (int j = 0; j < k; j++)
            {
                int u = batch.Users[x], i = batch.Positives[x], n = batch.Negatives[x * k + j];
                double z = X(u, i, bias) - X(u, n, bias);
                double s = Sigmoid(-z);                                   // −d/dz ln σ(z)
                double reg = 0;
                for (int c = 0; c < 2; c++)
                {
                    double p = TinyP[u * 2 + c], qi = TinyQ[i * 2 + c], qn = TinyQ[n * 2 + c];
                    reg += p * p + qi * qi + qn * qn;
                    ep[u * 2 + c] += -s * (qi - qn) + lambda * p;
                    eq[i * 2 + c] += -s * p + lambda * qi;
                    eq[n * 2 + c] += s * p + lambda * qn;
                }
                if (bias)
                {
                    reg += (double)TinyB[i] * TinyB[i] + (double)TinyB[n] * TinyB[n];
                    eb[i] += -s + lambda * TinyB[i];
                    eb[n] += s + lambda * TinyB[n];
                }
                expLoss += -Math.Log(Sigmoid(z)) + lambda / 2 * reg;
            }
        var (loss, gp, gq, gb) = model.ComputeGradients(batch);
        Assert.Equal(expLoss, loss, 6);     // λ = 0.1f widened differs from 0.1 by 1.5e-9
        AssertClose(ep, gp, 1e-6, "dL/dP");
        AssertClose(eq, gq, 1e-6, "dL/dQ");
        if (bias) AssertClose(eb, gb, 1e-6, "dL/db");
        else Assert.Empty(gb);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ScoresAreDotProductsPlusBiasAndScoreAllMatchesPairs(bool bias)
    {
        using var model = Tiny(bias);
        var s = new float[3];
        model.ScorePairs([0, 1, 1], [0, 1, 2], s);
        Assert.Equal(X(0, 0, bias), s[0], 1e-6);
        Assert.Equal(X(1, 1, bias), s[1], 1e-6);
        Assert.Equal(X(1, 2, bias), s[2], 1e-6);
        model.ScoreBudget = 2;                                        // 2 pairs per chunk
        var all = new float[2 * 3];
        model.ScoreAllItems([1, 0], all);
        for (int x = 0; x < 6; x++) Assert.Equal(X(x < 3 ? 1 : 0, x % 3, bias), all[x], 1e-6);
    }

    [Fact]
    public void TrainingLowersTheLossOnAFixedBatchAndStateRoundTrips()
    {
        var config = new BprConfig { Dim = 4, ItemBias = true, LearningRate = 0.05f };
        var rng = new Rng(3, "bpr.batches");
        var batch = RandomBatch(rng, 16, 2, 9, 7);
        using var a = new BprMfModel(config, 9, 7, seed: 1);
        double first = a.TrainStep(batch);
        for (int s = 0; s < 30; s++) a.TrainStep(batch);
        using var b = new BprMfModel(config, 9, 7, seed: 2);
        b.LoadState(a.SaveState());
        double la = a.TrainStep(batch), lb = b.TrainStep(batch);
        Assert.Equal(la, lb);
        Assert.True(la < 0.8 * first, $"loss {first} → {la}");
        Assert.Equal(a.ExportParameters().ItemBiases, b.ExportParameters().ItemBiases);
    }

    [Fact]
    public void BiasOptionMustMatchTheGivenBiases()
    {
        Assert.Throws<ArgumentException>(() => new BprMfModel(new BprConfig { Dim = 2, ItemBias = true }, 2, 3, TinyP, TinyQ, null));
        Assert.Throws<ArgumentException>(() => new BprMfModel(new BprConfig { Dim = 2 }, 2, 3, TinyP, TinyQ, TinyB));
    }
}
