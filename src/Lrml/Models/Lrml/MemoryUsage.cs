using System.Globalization;
using Lrml.Analysis;
using Lrml.Protocols;

namespace Lrml.Models;

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
public sealed class MemoryUsageProbe
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
