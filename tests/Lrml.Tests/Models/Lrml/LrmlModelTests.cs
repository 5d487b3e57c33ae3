using Lrml.Models;
using TorchSharp;
using static Lrml.Tests.Models.ModelTestSupport;
using static TorchSharp.torch;

namespace Lrml.Tests.Models;

/// <summary>LRML forward pass, loss and gradients against hand arithmetic and finite differences.</summary>
[Collection("Torch models")]
public class LrmlModelTests
{
    // Tiny fixed problem: d = 3, N = 2, 3 users, 4 items. User 0 (‖p‖ ≈ 1.12) and item 1 (‖q‖ ≈ 1.22) lie
    // outside the unit ball, so the clip is active for them; user 2 and item 3 are never in the batches.
    internal static LrmlParameters Tiny() => new(3, 4, 3, 2,
        p: [0.9f, -0.6f, 0.3f, 0.2f, 0.1f, -0.4f, 0.5f, 0.5f, 0.5f],
        q: [0.5f, 0.4f, -0.2f, -0.7f, 0.8f, 0.6f, 0.1f, -0.3f, 0.2f, 0.3f, 0.2f, 0.1f],
        k: [0.3f, -0.2f, 0.1f, 0.4f, -0.5f, 0.2f],
        m: [0.2f, -0.1f, 0.3f, -0.4f, 0.5f, 0.1f]);

    internal static TrainingBatch TinyBatch(int k) => k == 1
        ? Batch([0, 1, 0], [0, 2, 1], [1, 0, 2])
        : Batch([0, 1, 0], [0, 2, 1], [1, 2, 0, 1, 2, 0]);

    internal static LrmlConfig TinyConfig(LrmlDistance dist, NegativeRelation rel, NormConstraint norm, float l2 = 0,
        OptimizerKind opt = OptimizerKind.Adam, float margin = 0.5f) => new()
    {
        Dim = 3, Slots = 2, Margin = margin, Distance = dist, NegativeRelation = rel, NormConstraint = norm,
        L2 = l2, Optimizer = opt, LearningRate = 0.01f,
    };

    public static TheoryData<LrmlDistance, NegativeRelation, NormConstraint, int, int> LossCases()
    {
        var data = new TheoryData<LrmlDistance, NegativeRelation, NormConstraint, int, int>();
        foreach (var dist in Enum.GetValues<LrmlDistance>())
            foreach (var rel in Enum.GetValues<NegativeRelation>())
                foreach (var norm in Enum.GetValues<NormConstraint>())
                    foreach (var k in new[] { 1, 2 })
                        for (int regime = 0; regime < 3; regime++) data.Add(dist, rel, norm, k, regime);
        return data;
    }

    /// <summary>regime 0: no L2, dense Adam; 1: L2 = 0.1 over whole tensors (dense Adam); 2: L2 = 0.1 over touched rows (lazy Adam).</summary>
    private static LrmlConfig RegimeConfig(LrmlDistance dist, NegativeRelation rel, NormConstraint norm, int regime, float margin = 0.5f) =>
        TinyConfig(dist, rel, norm, regime == 0 ? 0f : 0.1f, regime == 2 ? OptimizerKind.LazyAdam : OptimizerKind.Adam, margin);

    [Theory]
    [MemberData(nameof(LossCases))]
    public void LossMatchesHandArithmetic(LrmlDistance dist, NegativeRelation rel, NormConstraint norm, int k, int regime)
    {
        var config = RegimeConfig(dist, rel, norm, regime);
        var batch = TinyBatch(k);
        var w = LrmlHand.AsConstructed(Tiny(), config);
        double expected = LrmlHand.Loss(w, config, batch);
        using var model = new LrmlModel(config, Tiny(), dtype: ScalarType.Float64);
        Assert.Equal(expected, model.ComputeLoss(batch), 12);
        // TrainStep reports the same loss (computed before its update)
        Assert.Equal(expected, model.TrainStep(batch), 12);
        Assert.Equal(expected - LrmlHand.L2(w, config, batch), model.LastHingeLoss, 12);
        Assert.Equal(LrmlHand.L2(w, config, batch), model.LastL2Loss, 12);
    }

    [Fact]
    public void HandCasesExerciseBothSidesOfTheHingeAndTheClip()
    {
        // The fixed problem is informative: with margin 0.5 some hinge terms are active and some are not, and the
        // clip changes the loss.
        var c = TinyConfig(LrmlDistance.SqrtL2, NegativeRelation.Reuse, NormConstraint.Clip);
        var w = HandWeights.From(Tiny());
        var args = LrmlHand.HingeArguments(w, c, TinyBatch(2));
        Assert.Contains(args, a => a > 0.01);
        Assert.Contains(args, a => a < -0.01);
        var none = c with { NormConstraint = NormConstraint.None };
        Assert.True(Math.Abs(LrmlHand.Loss(w, c, TinyBatch(2)) - LrmlHand.Loss(w, none, TinyBatch(2))) > 1e-3);
        // reuse and recompute differ on this batch
        var rec = c with { NegativeRelation = NegativeRelation.Recompute };
        Assert.True(Math.Abs(LrmlHand.Loss(w, c, TinyBatch(2)) - LrmlHand.Loss(w, rec, TinyBatch(2))) > 1e-4);
    }

    [Fact]
    public void SqrtL2LossOfOnePairWorkedByHand()
    {
        // One triple with frozen-simple numbers, worked out on paper: d = 2, N = 1 (softmax of one slot is 1, so
        // r = M row 0 = (0.1, −0.2)), p = (0.3, 0.4), q⁺ = (0.5, 0.1), q⁻ = (−0.2, 0.3).
        // p + r − q⁺ = (−0.1, 0.1) → D⁺ = sqrt(0.02 + 0.001) = sqrt(0.021)
        // p + r − q⁻ = (0.6, −0.1) → D⁻ = sqrt(0.37 + 0.001) = sqrt(0.371)
        // loss = max(0, 0.5 + sqrt(0.021) − sqrt(0.371)) = 0.5 + 0.144914 − 0.609098 = 0.035816
        var w = new LrmlParameters(1, 2, 2, 1, p: [0.3f, 0.4f], q: [0.5f, 0.1f, -0.2f, 0.3f], k: [0.7f, -0.3f], m: [0.1f, -0.2f]);
        var c = new LrmlConfig { Dim = 2, Slots = 1, Margin = 0.5f, NormConstraint = NormConstraint.None };
        using var model = new LrmlModel(c, w, dtype: ScalarType.Float64);
        Assert.Equal(0.5 + Math.Sqrt(0.021) - Math.Sqrt(0.371), model.ComputeLoss(Batch([0], [0], [1])), 6);
        Assert.Equal(0.035816, model.ComputeLoss(Batch([0], [0], [1])), 5);
        var s = new float[1];
        model.ScorePairs([0], [1], s);
        Assert.Equal(-Math.Sqrt(0.371), s[0], 5);
    }

    [Fact]
    public void Float32ModelAgreesWithDoubleArithmetic()
    {
        var config = TinyConfig(LrmlDistance.SqrtL2, NegativeRelation.Reuse, NormConstraint.Clip, l2: 0.1f);
        using var model = new LrmlModel(config, Tiny());
        double expected = LrmlHand.Loss(HandWeights.From(Tiny()), config, TinyBatch(2));
        Assert.Equal(expected, model.ComputeLoss(TinyBatch(2)), 5);
    }

    [Theory]
    [InlineData(LrmlDistance.SqrtL2, NormConstraint.Clip)]
    [InlineData(LrmlDistance.SquaredL2, NormConstraint.Clip)]
    [InlineData(LrmlDistance.L1, NormConstraint.Clip)]
    [InlineData(LrmlDistance.SqrtL2, NormConstraint.None)]
    [InlineData(LrmlDistance.L1, NormConstraint.Project)]
    public void ScoresAttentionAndRelationMatchHandArithmetic(LrmlDistance dist, NormConstraint norm)
    {
        var config = TinyConfig(dist, NegativeRelation.Reuse, norm);
        var w = LrmlHand.AsConstructed(Tiny(), config);
        using var model = new LrmlModel(config, Tiny(), dtype: ScalarType.Float64);
        int[] us = [0, 0, 1, 2, 1, 0, 2], its = [0, 1, 1, 3, 2, 3, 0];
        var scores = new float[us.Length];
        var att = new float[us.Length * 2];
        var rel = new float[us.Length * 3];
        model.ScorePairs(us, its, scores);
        model.Explain(us, its, att, rel);
        for (int x = 0; x < us.Length; x++)
        {
            Assert.Equal(LrmlHand.Score(w, config, us[x], its[x]), scores[x], 1e-6);
            var (a, r) = LrmlHand.Relation(w, LrmlHand.User(w, config, us[x]), LrmlHand.Item(w, config, its[x]));
            for (int s = 0; s < 2; s++) Assert.Equal(a[s], att[x * 2 + s], 1e-6);
            for (int j = 0; j < 3; j++) Assert.Equal(r[j], rel[x * 3 + j], 1e-6);
        }
    }

    public static TheoryData<LrmlDistance, NegativeRelation, NormConstraint, int, int> GradientCases()
    {
        var data = new TheoryData<LrmlDistance, NegativeRelation, NormConstraint, int, int>();
        foreach (var dist in Enum.GetValues<LrmlDistance>())
            foreach (var rel in Enum.GetValues<NegativeRelation>())
                foreach (var norm in new[] { NormConstraint.Clip, NormConstraint.None })
                    foreach (var k in new[] { 1, 2 })
                        for (int regime = 0; regime < 3; regime++) data.Add(dist, rel, norm, k, regime);
        return data;
    }

    [Theory]
    [MemberData(nameof(GradientCases))]
    public void GradientsMatchCentralFiniteDifferences(LrmlDistance dist, NegativeRelation rel, NormConstraint norm, int k, int regime)
    {
        // margin 5 keeps every hinge term active; the preconditions below keep the points away from every kink
        // (hinge at 0, clip at ‖x‖ = 1, |·| at 0 for L1) by far more than the step h = 1e-6, so the loss is smooth
        // around them.
        var config = RegimeConfig(dist, rel, norm, regime, margin: 5f);
        var batch = TinyBatch(k);
        Assert.All(LrmlHand.HingeArguments(HandWeights.From(Tiny()), config, batch), a => Assert.True(a > 1e-2, $"hinge argument {a} is not safely active"));
        for (int u = 0; u < 3; u++) Assert.True(Math.Abs(Norm(Tiny().P.AsSpan(u * 3, 3)) - 1) > 1e-2);
        for (int i = 0; i < 4; i++) Assert.True(Math.Abs(Norm(Tiny().Q.AsSpan(i * 3, 3)) - 1) > 1e-2);
        if (dist == LrmlDistance.L1) AssertResidualsAwayFromZero(config, batch);

        using var model = new LrmlModel(config, Tiny(), dtype: ScalarType.Float64);
        var (loss, gp, gq, gk, gm) = model.ComputeGradients(batch);
        Assert.Equal(model.ComputeLoss(batch), loss, 12);
        Func<double> f = () => model.ComputeLoss(batch);
        AssertClose(FiniteDifferences(model.P, f), gp, 1e-6, "dL/dP");
        AssertClose(FiniteDifferences(model.Q, f), gq, 1e-6, "dL/dQ");
        AssertClose(FiniteDifferences(model.K, f), gk, 1e-6, "dL/dK");
        AssertClose(FiniteDifferences(model.M, f), gm, 1e-6, "dL/dM");
        // the gradient is not trivially zero: the user absent from the batch has a zero gradient exactly when
        // there is no whole-table L2
        bool untouchedZero = gp.Skip(6).All(g => g == 0);
        Assert.Equal(regime != 1, untouchedZero);
        Assert.Contains(gp.Take(6), g => Math.Abs(g) > 1e-3);
    }

    private static void AssertResidualsAwayFromZero(LrmlConfig c, TrainingBatch b)
    {
        var w = HandWeights.From(Tiny());
        int k = b.NegativesPerPositive;
        for (int x = 0; x < b.Count; x++)
        {
            var p = LrmlHand.User(w, c, b.Users[x]); var qp = LrmlHand.Item(w, c, b.Positives[x]);
            var r = LrmlHand.Relation(w, p, qp).R;
            Assert.All(LrmlHand.Residual(p, r, qp), v => Assert.True(Math.Abs(v) > 1e-4, $"L1 residual component {v} is near its kink"));
            for (int j = 0; j < k; j++)
            {
                var qn = LrmlHand.Item(w, c, b.Negatives[x * k + j]);
                var rn = c.NegativeRelation == NegativeRelation.Reuse ? r : LrmlHand.Relation(w, p, qn).R;
                Assert.All(LrmlHand.Residual(p, rn, qn), v => Assert.True(Math.Abs(v) > 1e-4, $"L1 residual component {v} is near its kink"));
            }
        }
    }

    [Fact]
    public void GradientClipClampsValuesThenRescalesEachTensorNorm()
    {
        // SGD makes the applied gradient visible: Δθ = −lr · clip(g). Values are clamped to ±0.05, then each
        // tensor is rescaled to norm ≤ 0.08.
        var config = TinyConfig(LrmlDistance.SqrtL2, NegativeRelation.Recompute, NormConstraint.Clip, margin: 2f) with
        { Optimizer = OptimizerKind.Sgd, LearningRate = 0.5f, GradClipValue = 0.05f, GradClipNorm = 0.08f };
        var batch = TinyBatch(2);
        using var model = new LrmlModel(config, Tiny(), dtype: ScalarType.Float64);
        var before = ToDoubles(model);
        var (_, gp, gq, gk, gm) = model.ComputeGradients(batch);
        Assert.Contains(gp, g => Math.Abs(g) > 0.05);               // the value clamp is active
        model.TrainStep(batch);
        var after = ToDoubles(model);
        var grads = new[] { gp, gq, gk, gm };
        for (int t = 0; t < 4; t++)
        {
            double clipValue = config.GradClipValue, clipNorm = config.GradClipNorm;   // the float values, widened
            var g = grads[t].Select(v => Math.Clamp(v, -clipValue, clipValue)).ToArray();
            double n = Math.Sqrt(g.Sum(v => v * v));
            double scale = clipNorm / Math.Max(n, clipNorm);
            var expected = before[t].Select((v, x) => v - 0.5 * g[x] * scale).ToArray();
            AssertClose(expected, after[t], 1e-12, "θ[" + t + "]");
        }
    }

    internal static double[][] ToDoubles(LrmlModel m) =>
        [Lrml.Models.TorchSupport.ToDoubles(m.P), Lrml.Models.TorchSupport.ToDoubles(m.Q), Lrml.Models.TorchSupport.ToDoubles(m.K), Lrml.Models.TorchSupport.ToDoubles(m.M)];
}
