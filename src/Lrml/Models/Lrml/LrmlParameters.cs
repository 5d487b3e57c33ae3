using Lrml.Util;

namespace Lrml.Models;

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
