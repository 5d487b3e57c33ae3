using System.Globalization;
using Lrml.Analysis;
using Lrml.Protocols;
using Lrml.Training;
using Lrml.Util;

namespace Lrml.Models;

// What every LRML engine shares (see README.md): the initial weights, WARP's negative draws and weights, and the
// relational view of a trained model that the diagnostics and analyses read.

/// <summary>
/// The trainable tensors of LRML as plain row-major float arrays: user embeddings P (users × d), item
/// embeddings Q (items × d), memory keys K (d × N) and memory slices M (N × d). Every engine (the
/// TorchSharp reference and the fused CPU path) starts from the same <see cref="Initialize"/> output, so
/// runs with one seed begin from identical weights whatever engine trains them, and parity tests can
/// compare engines step by step.
/// </summary>
public sealed class LrmlParameters
{
    public int NumUsers { get; }
    public int NumItems { get; }
    public int Dim { get; }
    public int Slots { get; }

    /// <summary>User embeddings, NumUsers × Dim.</summary>
    public float[] P { get; }
    /// <summary>Item embeddings, NumItems × Dim.</summary>
    public float[] Q { get; }
    /// <summary>Memory keys, Dim × Slots (attention logits are s · K).</summary>
    public float[] K { get; }
    /// <summary>Memory slices, Slots × Dim (relation is a · M).</summary>
    public float[] M { get; }

    public LrmlParameters(int numUsers, int numItems, int dim, int slots, float[] p, float[] q, float[] k, float[] m)
    {
        if (p.Length != numUsers * dim) throw new ArgumentException("P has the wrong size.");
        if (q.Length != numItems * dim) throw new ArgumentException("Q has the wrong size.");
        if (k.Length != dim * slots) throw new ArgumentException("K has the wrong size.");
        if (m.Length != slots * dim) throw new ArgumentException("M has the wrong size.");
        NumUsers = numUsers; NumItems = numItems; Dim = dim; Slots = slots; P = p; Q = q; K = k; M = m;
    }

    /// <summary>
    /// Authors' initialisation: P, Q ~ U(−σ, σ); K, M ~ N(0, σ_m²) (standard deviation, mean 0 — one
    /// public port mistakenly used mean σ), σ = <see cref="LrmlConfig.InitScale"/> and σ_m =
    /// <see cref="LrmlConfig.EffectiveMemoryInitScale"/> (σ unless set). Deterministic in <paramref name="seed"/>; each tensor
    /// draws from its own stream so changing N or σ_m does not change P and Q.
    /// </summary>
    public static LrmlParameters Initialize(LrmlConfig config, int numUsers, int numItems, long seed)
    {
        config.Validate();
        int d = config.Dim, n = config.Slots;
        float s = config.InitScale;
        var p = new float[(long)numUsers * d];
        var q = new float[(long)numItems * d];
        var k = new float[d * n];
        var m = new float[n * d];
        var ru = new Rng(seed, "lrml.init.P");
        for (long x = 0; x < p.LongLength; x++) p[x] = (2f * ru.NextFloat() - 1f) * s;
        var ri = new Rng(seed, "lrml.init.Q");
        for (long x = 0; x < q.LongLength; x++) q[x] = (2f * ri.NextFloat() - 1f) * s;
        float sm = config.EffectiveMemoryInitScale;
        var rk = new Rng(seed, "lrml.init.K");
        for (int x = 0; x < k.Length; x++) k[x] = (float)(rk.NextGaussian() * sm);
        var rm = new Rng(seed, "lrml.init.M");
        for (int x = 0; x < m.Length; x++) m[x] = (float)(rm.NextGaussian() * sm);
        return new LrmlParameters(numUsers, numItems, d, n, p, q, k, m);
    }

    /// <summary>Deep copy.</summary>
    public LrmlParameters Clone() =>
        new(NumUsers, NumItems, Dim, Slots, (float[])P.Clone(), (float[])Q.Clone(), (float[])K.Clone(), (float[])M.Clone());
}

/// <summary>
/// A model whose score for (u, i) goes through a learned relation: LRML's attention over memory slots
/// a(u,i) ∈ Δ^N and relation vector r(u,i) = a·M ∈ R^d. Used by the qualitative analyses.
/// </summary>
public interface IRelationalModel
{
    /// <summary>Number of memory slots N.</summary>
    int Slots { get; }

    /// <summary>Embedding dimension d.</summary>
    int Dim { get; }

    /// <summary>
    /// For each pair (users[k], items[k]) writes the attention (row k of a pairs × N matrix) and the
    /// relation vector (row k of a pairs × d matrix), exactly as the scoring path computes them
    /// (including the norm clip when configured).
    /// </summary>
    void Explain(ReadOnlySpan<int> users, ReadOnlySpan<int> items, Span<float> attention, Span<float> relation);

    /// <summary>A copy of the current parameters.</summary>
    LrmlParameters ExportParameters();

    /// <summary>The vectors the scoring path uses for the given users and items (after the norm clip when configured),
    /// row-major users.Length × d and items.Length × d.</summary>
    (float[] Users, float[] Items) EffectiveEmbeddings(ReadOnlySpan<int> users, ReadOnlySpan<int> items);

    /// <summary>The norms of the hinge-loss gradients that reached K and M in the training steps since the last call
    /// (see <see cref="MemoryGradientNorms"/>), and starts a new accumulation. Does not change the model.</summary>
    MemoryGradientNorms TakeMemoryGradientNorms();
}

/// <summary>
/// The sampling and weights of LRML's WARP-style rank weighting (<see cref="LrmlRankWeighting.Warp"/>), shared by both
/// engines so they draw the same negatives and compute the same weights: for every positive (u, i⁺) of a batch, U negatives
/// j are drawn uniformly from the items u has no training interaction with (stream "lrml.warp", positives in batch order,
/// then j), the impostors M = #{j : margin + D(u,i⁺) − D(u,j) &gt; 0} are counted (D(u,j) with the relation the negative pair
/// uses: the positive's r under reuse, r(u,j) under recompute), and the positive's hinge terms are weighted by
/// w = log(1 + ⌊J·M/U⌋) with J the number of items (the rank estimate of Hsieh et al. 2017, §3.3; integer arithmetic, so
/// both engines agree exactly). The drawn negatives only set the weight: they receive no gradient and are not rows the
/// step touches.
/// </summary>
internal sealed class LrmlWarp
{
    private readonly NegativeSampler _sampler;
    private readonly Rng _rng;
    private readonly int _items;

    public LrmlWarp(UserItems positives, int numUsers, int numItems, int negatives, long seed)
    {
        ArgumentNullException.ThrowIfNull(positives);
        if (positives.NumUsers != numUsers || positives.NumItems != numItems)
            throw new ArgumentException($"positives are {positives.NumUsers}×{positives.NumItems} but the model is {numUsers}×{numItems}.");
        _sampler = new NegativeSampler(positives);
        _rng = new Rng(seed, "lrml.warp");
        _items = numItems;
        Negatives = negatives;
    }

    /// <summary>U, negatives drawn per positive.</summary>
    public int Negatives { get; }

    /// <summary>The random stream (its state follows the model's state).</summary>
    public Rng Rng => _rng;

    /// <summary>The U negatives of every positive of <paramref name="batch"/> (row-major count × U). A training step advances
    /// the stream; a diagnostic call (<paramref name="advance"/> false) draws the same negatives from a copy and leaves it.</summary>
    public int[] Draw(TrainingBatch batch, bool advance)
    {
        var rng = advance ? _rng : _rng.Clone();
        int n = batch.Count, u = Negatives;
        var drawn = new int[n * u];
        for (int x = 0; x < n; x++)
            for (int j = 0; j < u; j++) drawn[x * u + j] = _sampler.Sample(batch.Users[x], rng);
        return drawn;
    }

    /// <summary>w = log(1 + ⌊J·M/U⌋) for M impostors among the U negatives.</summary>
    public float Weight(int impostors) => (float)Math.Log(1.0 + (long)_items * impostors / Negatives);
}

/// <summary>
/// Gradient norms reaching LRML's memory, accumulated over optimiser steps: the Frobenius norms of ∂hinge/∂K and
/// ∂hinge/∂M of each step (the hinge part of the batch loss, summed over the batch as the loss is; before L2, gradient
/// clipping and the optimiser), summed over <see cref="Steps"/> steps. Frozen memory reports no steps.
/// </summary>
public readonly record struct MemoryGradientNorms(double SumK, double SumM, int Steps)
{
    /// <summary>Mean per-step ‖∂hinge/∂K‖ (NaN without steps).</summary>
    public double MeanK => Steps > 0 ? SumK / Steps : double.NaN;

    /// <summary>Mean per-step ‖∂hinge/∂M‖ (NaN without steps).</summary>
    public double MeanM => Steps > 0 ? SumM / Steps : double.NaN;
}

/// <summary>
/// Whether LRML's memory is used, measured on a fixed sample of (user, item) pairs with the vectors the scoring path
/// uses (after the norm clip): the attention a(u,i) over the N slots and the relation r(u,i) = a·M.
/// A memory that is not used has a uniform attention (<see cref="EntropyRatio"/> = 1, <see cref="MaxAttention"/> = 1/N)
/// and a relation that is the same vector for every pair (<see cref="RelationSpread"/> ≈ 0): LRML is then CML plus a
/// constant translation.
/// </summary>
/// <param name="Pairs">Pairs measured.</param>
/// <param name="Slots">Memory slots N.</param>
/// <param name="AttentionEntropy">Mean over pairs of −Σₙ aₙ ln aₙ (nats).</param>
/// <param name="EntropyRatio">AttentionEntropy / ln N: 1 for a uniform attention, 0 for a one-hot one (NaN when N = 1).</param>
/// <param name="MaxAttention">Mean over pairs of maxₙ aₙ (uniform: 1/N).</param>
/// <param name="LogitStd">Mean over pairs of the standard deviation of the attention logits across the N slots, computed
/// as the std of ln aₙ (softmax is shift-invariant, so this equals the logits' std; an attention that underflows to 0
/// counts as ln 1e-45).</param>
/// <param name="RelationNorm">Mean ‖r(u,i)‖.</param>
/// <param name="UserItemDistance">Mean ‖p − q‖ of the same pairs: the scale r is compared with.</param>
/// <param name="RelationSpread">Spread of r across pairs: the standard deviation of each of the d coordinates of r over
/// the pairs, averaged over the coordinates (0 when r is one constant vector).</param>
/// <param name="GradNormK">Mean per-step ‖∂hinge/∂K‖ over the steps since the last measurement (NaN when memory is frozen
/// or no step was taken).</param>
/// <param name="GradNormM">Mean per-step ‖∂hinge/∂M‖, as <paramref name="GradNormK"/>.</param>
public sealed record MemoryUsage(int Pairs, int Slots, double AttentionEntropy, double EntropyRatio, double MaxAttention,
    double LogitStd, double RelationNorm, double UserItemDistance, double RelationSpread, double GradNormK, double GradNormM)
{
    /// <summary>Pairs the kit measures by default (drawn once per run from the training pairs).</summary>
    public const int DefaultPairs = 2000;

    /// <summary>The names of the measurements in <see cref="ToDictionary"/> (epochs.jsonl "diagnostics").</summary>
    public static readonly IReadOnlyList<string> Keys =
    [
        "attention_entropy", "attention_entropy_ratio", "attention_max", "attention_logit_std", "relation_norm",
        "user_item_distance", "relation_spread", "grad_norm_k", "grad_norm_m",
    ];

    /// <summary>Measures <paramref name="model"/> on the pairs (users[k], items[k]); <paramref name="gradients"/> are the
    /// accumulated gradient norms to report with them (null: NaN).</summary>
    public static MemoryUsage Measure(IRelationalModel model, ReadOnlySpan<int> users, ReadOnlySpan<int> items, MemoryGradientNorms? gradients = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (users.Length != items.Length) throw new ArgumentException("users and items differ in length.");
        if (users.Length == 0) throw new ArgumentException("Memory usage needs at least one pair.");
        int n = users.Length, slots = model.Slots, d = model.Dim;
        var a = new float[n * slots];
        var r = new float[n * d];
        model.Explain(users, items, a, r);
        var (p, q) = model.EffectiveEmbeddings(users, items);
        double entropy = 0, max = 0, logitStd = 0, rNorm = 0, gap = 0;
        var sum = new double[d];
        var sumSq = new double[d];
        for (int k = 0; k < n; k++)
        {
            var ak = a.AsSpan(k * slots, slots);
            double h = 0, mx = 0, lm = 0, l2 = 0;
            foreach (float v in ak)
            {
                if (v > 0) h -= v * Math.Log(v);
                mx = Math.Max(mx, v);
                double l = Math.Log(Math.Max(v, 1e-45));
                lm += l; l2 += l * l;
            }
            lm /= slots;
            entropy += h; max += mx; logitStd += Math.Sqrt(Math.Max(0, l2 / slots - lm * lm));
            double rn = 0, g = 0;
            for (int j = 0; j < d; j++)
            {
                double rv = r[k * d + j], diff = p[k * d + j] - q[k * d + j];
                rn += rv * rv; g += diff * diff;
                sum[j] += rv; sumSq[j] += rv * rv;
            }
            rNorm += Math.Sqrt(rn); gap += Math.Sqrt(g);
        }
        double spread = 0;
        for (int j = 0; j < d; j++)
        {
            double mean = sum[j] / n;
            spread += Math.Sqrt(Math.Max(0, sumSq[j] / n - mean * mean));
        }
        entropy /= n;
        return new MemoryUsage(n, slots, entropy, slots > 1 ? entropy / Math.Log(slots) : double.NaN, max / n, logitStd / n,
            rNorm / n, gap / n, spread / d, gradients?.MeanK ?? double.NaN, gradients?.MeanM ?? double.NaN);
    }

    /// <summary>
    /// <paramref name="count"/> distinct training pairs drawn uniformly with <paramref name="seed"/> (<see cref="Subsample.Uniform"/>,
    /// its own stream), in the order of <see cref="UserItems.ToPairs"/>; all pairs when there are fewer. The draw uses no
    /// stream of the trainer, so measuring never changes a run.
    /// </summary>
    public static (int[] Users, int[] Items) SamplePairs(UserItems train, int count, long seed)
    {
        ArgumentNullException.ThrowIfNull(train);
        var (users, items) = train.ToPairs();
        var pick = Subsample.Uniform(users.Length, count, seed);
        return (pick.Select(k => users[k]).ToArray(), pick.Select(k => items[k]).ToArray());
    }

    /// <summary>The measurements by name (<see cref="Keys"/>), for epoch logs.</summary>
    public IReadOnlyDictionary<string, double> ToDictionary() => new Dictionary<string, double>
    {
        ["attention_entropy"] = AttentionEntropy, ["attention_entropy_ratio"] = EntropyRatio, ["attention_max"] = MaxAttention,
        ["attention_logit_std"] = LogitStd, ["relation_norm"] = RelationNorm, ["user_item_distance"] = UserItemDistance,
        ["relation_spread"] = RelationSpread, ["grad_norm_k"] = GradNormK, ["grad_norm_m"] = GradNormM,
    };

    /// <summary>One line for logs: entropy ratio, max attention against 1/N, ‖r‖ against ‖p − q‖, spread of r and the
    /// memory gradient norms (values missing from <paramref name="values"/> print as "–").</summary>
    public static string Format(IReadOnlyDictionary<string, double> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        string F(string key, string format) =>
            values.TryGetValue(key, out double v) && double.IsFinite(v) ? v.ToString(format, CultureInfo.InvariantCulture) : "–";
        return $"H/lnN {F("attention_entropy_ratio", "0.0000")}  max a {F("attention_max", "0.000")}  ‖r‖ {F("relation_norm", "0.000")}" +
               $"  ‖p−q‖ {F("user_item_distance", "0.000")}  r spread {F("relation_spread", "0.0000")}" +
               $"  ∇K {F("grad_norm_k", "0.00e0")}  ∇M {F("grad_norm_m", "0.00e0")}";
    }
}

/// <summary>
/// Measures a relational model's <see cref="MemoryUsage"/> on one fixed sample of training pairs (drawn once), taking the
/// memory gradient norms the model accumulated since the last measurement; the trainer calls it after every epoch.
/// </summary>
internal sealed class MemoryUsageProbe
{
    private readonly int[] _users, _items;

    /// <summary>A probe on <paramref name="pairs"/> distinct training pairs drawn with <paramref name="seed"/>.</summary>
    public MemoryUsageProbe(UserItems train, long seed, int pairs = MemoryUsage.DefaultPairs)
    {
        if (pairs < 1) throw new ArgumentOutOfRangeException(nameof(pairs), pairs, "A probe needs at least one pair.");
        (_users, _items) = MemoryUsage.SamplePairs(train, pairs, seed);
        if (_users.Length == 0) throw new ArgumentException("The training split is empty.");
    }

    /// <summary>The pairs measured.</summary>
    public int Pairs => _users.Length;

    /// <summary>Measures the model now and resets its gradient-norm accumulators.</summary>
    public MemoryUsage Measure(IRelationalModel model) =>
        MemoryUsage.Measure(model, _users, _items, model.TakeMemoryGradientNorms());
}
