using System.Numerics;
using Lrml.Models;
using static Lrml.Fast.FusedMath;
using T = System.Numerics.Tensors.TensorPrimitives;

namespace Lrml.Fast;

/// <summary>
/// A kernel whose examples share dense work (NCF's MLP tower): it trains a chunk of examples at a time as small GEMMs and
/// scores a user against a segment of items itself, so <see cref="EmbeddingEngine"/> calls these hooks instead of the
/// per-example <see cref="EmbeddingKernel.Example"/> and the matrix-product form <see cref="EmbeddingKernel.ScoreUser"/>.
/// </summary>
internal abstract class ChunkKernel : EmbeddingKernel
{
    /// <summary>Per-worker buffers for chunks of up to <paramref name="examples"/> examples of <paramref name="count"/> rows.</summary>
    public abstract void Prepare(int workers, int examples, int count);

    /// <summary>Before a step's chunks run: the dense parameters as they are for this step.</summary>
    public abstract void BeginStep(ReadOnlySpan<float> dense);

    /// <summary>Forward and backward of <paramref name="n"/> examples: user rows at stride <paramref name="su"/>, their
    /// n·count item rows (positive first) at stride <paramref name="si"/>; overwrites the gradient rows, adds the dense
    /// gradient, returns the reported loss (as <see cref="EmbeddingKernel.Example"/> for each example).</summary>
    public abstract double Chunk(int worker, ReadOnlySpan<float> users, ReadOnlySpan<float> items, int su, int si, int n, int count,
        float coef, Span<float> gp, Span<float> gq, Span<float> gDense);

    /// <summary>Before full ranking: the item table (stride <paramref name="si"/>) and dense parameters of this version.</summary>
    public abstract void CacheItems(float[] items, int si, int count, ReadOnlySpan<float> dense, int workers);

    /// <summary>Scores of one user row against items [i0, i0 + dst.Length) into <paramref name="dst"/>.</summary>
    public abstract void ScoreSegment(int worker, ReadOnlySpan<float> p, int i0, Span<float> dst);

    /// <summary>Scores of (user, item) pairs from the tables (strides su, si), with the dense parameters of the last <see cref="BeginStep"/>.</summary>
    public abstract void ScorePairs(float[] p, int su, float[] q, int si, ReadOnlySpan<int> users, ReadOnlySpan<int> items, Span<float> scores);

    public sealed override float Score(ReadOnlySpan<float> p, ReadOnlySpan<float> q, ReadOnlySpan<float> dense) =>
        throw new NotSupportedException($"{Name} scores pairs a block at a time (ScorePairs).");

    public sealed override double Example(ReadOnlySpan<float> p, ReadOnlySpan<float> q, ReadOnlySpan<int> rows, int stride, int count, ReadOnlySpan<float> dense,
        float coef, Span<float> gp, Span<float> gq, Span<bool> live, Span<float> gDense) => throw new NotSupportedException($"{Name} trains a chunk at a time (Chunk).");

    public sealed override float ScoreUser(ReadOnlySpan<float> p, ReadOnlySpan<float> dense, Span<float> a) =>
        throw new NotSupportedException($"{Name} scores a segment at a time (ScoreSegment).");
}

/// <summary>
/// MLP and NeuMF (<see cref="MlpModel"/>, <see cref="NeuMfModel"/>: NcfCore with an MLP tower, with or without the GMF part).
/// User row [p (GMF, d) ; p' (Layers[0]/2)], item row likewise; dense parameters in NcfNet's order W₁, b₁, …, W_m, b_m, h, h_bias
/// (W_l row-major out × in, as torch). z = hᵀ[p ⊙ q ; a_m] + b with a_l = ReLU(W_l a_{l−1} + b_l), a₀ = [p' ; q'];
/// log loss softplus(−z⁺) + Σ softplus(z⁻) plus λ(‖e_u‖² + ‖e_i‖²) per pair, reduced by mean over B(1 + k) or summed.
/// A chunk runs as GEMMs over its pairs: the first layer split W₁[p'; q'] = W₁ᵘp' + W₁ⁱq' (the user half once per
/// example), the dense gradients as δᵀA products summed in pair order (the same for any thread count).
/// </summary>
internal sealed class NcfKernel : ChunkKernel
{
    private const int Segment = 256;
    private readonly string _name;
    private readonly int _d, _e, _m, _pe, _nd;
    private readonly int[] _l, _pl, _offW, _offB;   // _l[0..m] layer sizes, _pl padded; offsets of W_l, b_l in dense (index l)
    private readonly int _offH;
    private readonly float _l2;
    private readonly bool _mean;
    // padded copies of the dense parameters for this step: layer 1 split into user (u) and item (i) halves
    private readonly float[] _w1uT, _w1iT, _w1u, _w1i, _hm, _hmu, _hmi;
    private readonly float[][] _wT, _w, _b;
    private readonly float[] _hg;
    private float _hb;
    private Work[] _work = [];
    private Scratch[] _score = [];
    private float[] _y = [], _qTable = [];
    private int _si;

    public NcfKernel(string name, int gmfDim, int[] layers, float l2, LossReduction reduction)
    {
        _name = name; _d = gmfDim; _l = layers; _m = layers.Length - 1; _e = layers[0] / 2; _pe = Pad(_e);
        _l2 = l2; _mean = reduction == LossReduction.Mean;
        _pl = layers.Select(Pad).ToArray();
        _offW = new int[_m + 1]; _offB = new int[_m + 1];
        int o = 0;
        for (int l = 1; l <= _m; l++) { _offW[l] = o; o += _l[l] * _l[l - 1]; _offB[l] = o; o += _l[l]; }
        _offH = o; _nd = o + _d + _l[_m] + 1;
        int p1 = _m > 0 ? _pl[1] : 0;
        _w1uT = new float[_e * p1]; _w1iT = new float[_e * p1]; _w1u = new float[(_m > 0 ? _l[1] : 0) * _pe]; _w1i = new float[_w1u.Length];
        _wT = new float[_m + 1][]; _w = new float[_m + 1][]; _b = new float[_m + 1][];
        for (int l = 1; l <= _m; l++)
        {
            _b[l] = new float[_pl[l]];
            if (l > 1) { _wT[l] = new float[_l[l - 1] * _pl[l]]; _w[l] = new float[_l[l] * _pl[l - 1]]; }
        }
        _hg = new float[_d];
        _hm = new float[_pl[_m]]; _hmu = new float[_pe]; _hmi = new float[_pe];
    }

    public override string Name => _name;

    /// <summary>Floats of the dense parameters (all W_l, b_l, then h and h_bias).</summary>
    public int Dense => _nd;

    public override float Coefficient(int count, int k) => _mean ? 1f / (count * (1 + k)) : 1f;

    /// <summary>Padded (and transposed where the GEMMs read Wᵀ) copies of the dense parameters.</summary>
    public override void BeginStep(ReadOnlySpan<float> dense)
    {
        int e = _e;
        for (int l = 1; l <= _m; l++)
        {
            int rows = _l[l], cols = _l[l - 1], pr = _pl[l];
            var w = dense.Slice(_offW[l], rows * cols);
            dense.Slice(_offB[l], rows).CopyTo(_b[l]);
            for (int r = 0; r < rows; r++)
                for (int c = 0; c < cols; c++)
                {
                    float v = w[r * cols + c];
                    if (l == 1)
                    {
                        if (c < e) { _w1uT[c * pr + r] = v; _w1u[r * _pe + c] = v; }
                        else { _w1iT[(c - e) * pr + r] = v; _w1i[r * _pe + c - e] = v; }
                    }
                    else { _wT[l][c * pr + r] = v; _w[l][r * _pl[l - 1] + c] = v; }
                }
        }
        dense.Slice(_offH, _d).CopyTo(_hg);
        var hm = dense.Slice(_offH + _d, _l[_m]);
        if (_m > 0) hm.CopyTo(_hm);
        else { hm[..e].CopyTo(_hmu); hm[e..].CopyTo(_hmi); }
        _hb = dense[_nd - 1];
    }

    /// <summary>One worker's buffers for a chunk of n examples, np = n·count pairs (padding columns stay zero).</summary>
    private sealed class Work
    {
        public float[] Pm = [], Qm = [], U1 = [], Du = [], Dp = [], Dq = [], D1 = [], D2 = [], Z = [], G = [];
        public float[][] A = [], Gw = [], Gb = [];
        public float[] Gw1u = [], Gw1i = [], Gh = [];
    }

    public override void Prepare(int workers, int examples, int count)
    {
        int n = examples, np = n * count, p1 = _m > 0 ? _pl[1] : 1, pmax = _pl.Max();
        _work = Enumerable.Range(0, workers).Select(_ => new Work
        {
            Pm = new float[n * _pe], Qm = new float[np * _pe], U1 = new float[n * p1], Du = new float[n * p1], Dp = new float[n * _pe],
            Dq = new float[np * _pe], D1 = new float[np * pmax], D2 = new float[np * pmax], Z = new float[np], G = new float[np],
            A = Enumerable.Range(0, _m + 1).Select(l => l == 0 ? [] : new float[np * _pl[l]]).ToArray(),
            Gw = Enumerable.Range(0, _m + 1).Select(l => l < 2 ? [] : new float[_l[l] * _pl[l - 1]]).ToArray(),
            Gb = Enumerable.Range(0, _m + 1).Select(l => new float[_pl[l]]).ToArray(),
            Gw1u = new float[_w1u.Length], Gw1i = new float[_w1i.Length], Gh = new float[Math.Max(_pl[_m], 2 * _pe)],
        }).ToArray();
    }

    public override double Chunk(int worker, ReadOnlySpan<float> users, ReadOnlySpan<float> items, int su, int si, int n, int t,
        float coef, Span<float> gp, Span<float> gq, Span<float> gDense)
    {
        var w = _work[worker];
        int d = _d, e = _e, pe = _pe, np = n * t;
        for (int x = 0; x < n; x++) users.Slice(x * su + d, e).CopyTo(w.Pm.AsSpan(x * pe));
        for (int o = 0; o < np; o++) items.Slice(o * si + d, e).CopyTo(w.Qm.AsSpan(o * pe));
        // forward: the tower's output z_m per pair (in w.Z), then the GMF part and the loss
        if (_m > 0)
        {
            int p1 = _pl[1];
            Gemm(ref Ref(w.Pm), pe, 1, ref Ref(_w1uT), p1, ref Ref(w.U1), p1, n, e, p1, false);
            Gemm(ref Ref(w.Qm), pe, 1, ref Ref(_w1iT), p1, ref Ref(w.A[1]), p1, np, e, p1, false);
            for (int x = 0; x < n; x++) T.Add(w.U1.AsSpan(x * p1, p1), _b[1], w.U1.AsSpan(x * p1, p1));
            for (int o = 0; o < np; o++)
            {
                AddRelu(w.A[1].AsSpan(o * p1, p1), w.U1.AsSpan(o / t * p1, p1));
            }
            for (int l = 2; l <= _m; l++)
            {
                int pin = _pl[l - 1], pout = _pl[l];
                Gemm(ref Ref(w.A[l - 1]), pin, 1, ref Ref(_wT[l]), pout, ref Ref(w.A[l]), pout, np, _l[l - 1], pout, false);
                for (int o = 0; o < np; o++) AddRelu(w.A[l].AsSpan(o * pout, pout), _b[l]);
            }
            int pm = _pl[_m];
            for (int o = 0; o < np; o++) w.Z[o] = FusedMath.Dot(w.A[_m].AsSpan(o * pm, pm), _hm);
        }
        else
            for (int o = 0; o < np; o++) w.Z[o] = FusedMath.Dot(w.Pm.AsSpan(o / t * pe, pe), _hmu) + FusedMath.Dot(w.Qm.AsSpan(o * pe, pe), _hmi);

        double loss = 0;
        float l2c = 2f * _l2 * coef;
        Span<float> ph = stackalloc float[Math.Max(d, 1)], tmp = stackalloc float[Math.Max(d, 1)];
        for (int x = 0; x < n; x++)
        {
            var p = users.Slice(x * su, d + e);
            var gpx = gp.Slice(x * su, d + e);
            T.Multiply(p, l2c * t, gpx);                                  // the user is looked up by 1 + k pairs
            if (d > 0) T.Multiply(p[..d], _hg, ph);
            for (int j = 0; j < t; j++)
            {
                int o = x * t + j;
                var q = items.Slice(o * si, d + e);
                var gqo = gq.Slice(o * si, d + e);
                float z = w.Z[o] + _hb + (d > 0 ? FusedMath.Dot(ph, q[..d]) : 0f);
                loss += j == 0 ? Softplus(-z) : Softplus(z);
                float g = coef * (j == 0 ? -Sigmoid(-z) : Sigmoid(z));
                w.G[o] = g;
                T.Multiply(q, l2c, gqo);
                gDense[_nd - 1] += g;
                if (d == 0) continue;
                T.MultiplyAdd(ph, g, gqo[..d], gqo[..d]);
                T.Multiply(q[..d], _hg, tmp);
                T.MultiplyAdd(tmp, g, gpx[..d], gpx[..d]);
                T.Multiply(p[..d], q[..d], tmp);
                T.MultiplyAdd(tmp, g, gDense.Slice(_offH, d), gDense.Slice(_offH, d));
            }
        }
        Backward(w, n, t, np);
        // the MLP embeddings' gradients, then the dense gradients in torch layout
        for (int x = 0; x < n; x++) T.Add(gp.Slice(x * su + d, e), w.Dp.AsSpan(x * pe, e), gp.Slice(x * su + d, e));
        for (int o = 0; o < np; o++) T.Add(gq.Slice(o * si + d, e), w.Dq.AsSpan(o * pe, e), gq.Slice(o * si + d, e));
        Scatter(w, gDense);
        return loss;
    }

    /// <summary>δ through the tower: dh_m, every dW_l and db_l (padded, this chunk), dP' and dQ'.</summary>
    private void Backward(Work w, int n, int t, int np)
    {
        int pe = _pe;
        if (_m == 0)
        {
            w.Gh.AsSpan().Clear();
            for (int o = 0; o < np; o++)
            {
                float g = w.G[o];
                int x = o / t;
                T.MultiplyAdd(w.Pm.AsSpan(x * pe, pe), g, w.Gh.AsSpan(0, pe), w.Gh.AsSpan(0, pe));
                T.MultiplyAdd(w.Qm.AsSpan(o * pe, pe), g, w.Gh.AsSpan(pe, pe), w.Gh.AsSpan(pe, pe));
                T.Multiply(_hmi, g, w.Dq.AsSpan(o * pe, pe));
                if (o % t == 0) w.Dp.AsSpan(x * pe, pe).Clear();
                T.MultiplyAdd(_hmu, g, w.Dp.AsSpan(x * pe, pe), w.Dp.AsSpan(x * pe, pe));
            }
            return;
        }
        int pm = _pl[_m];
        var delta = w.D1; var next = w.D2;
        w.Gh.AsSpan().Clear();
        for (int o = 0; o < np; o++)
        {
            var a = w.A[_m].AsSpan(o * pm, pm);
            T.MultiplyAdd(a, w.G[o], w.Gh.AsSpan(0, pm), w.Gh.AsSpan(0, pm));
            Masked(_hm, w.G[o], a, delta.AsSpan(o * pm, pm));
        }
        for (int l = _m; l >= 1; l--)
        {
            int pout = _pl[l];
            var gb = w.Gb[l];
            gb.AsSpan().Clear();
            for (int o = 0; o < np; o++) T.Add(gb, delta.AsSpan(o * pout, pout), gb);
            if (l == 1) break;
            int pin = _pl[l - 1];
            Gemm(ref Ref(delta), 1, pout, ref Ref(w.A[l - 1]), pin, ref Ref(w.Gw[l]), pin, _l[l], np, pin, false);
            Gemm(ref Ref(delta), pout, 1, ref Ref(_w[l]), pin, ref Ref(next), pin, np, _l[l], pin, false);
            for (int o = 0; o < np; o++)
            {
                var dn = next.AsSpan(o * pin, pin);
                Masked(dn, 1f, w.A[l - 1].AsSpan(o * pin, pin), dn);
            }
            (delta, next) = (next, delta);
        }
        int p1 = _pl[1];
        for (int x = 0; x < n; x++)
        {
            var du = w.Du.AsSpan(x * p1, p1);
            delta.AsSpan(x * t * p1, p1).CopyTo(du);
            for (int j = 1; j < t; j++) T.Add(du, delta.AsSpan((x * t + j) * p1, p1), du);
        }
        Gemm(ref Ref(delta), 1, p1, ref Ref(w.Qm), pe, ref Ref(w.Gw1i), pe, _l[1], np, pe, false);
        Gemm(ref Ref(w.Du), 1, p1, ref Ref(w.Pm), pe, ref Ref(w.Gw1u), pe, _l[1], n, pe, false);
        Gemm(ref Ref(delta), p1, 1, ref Ref(_w1i), pe, ref Ref(w.Dq), pe, np, _l[1], pe, false);
        Gemm(ref Ref(w.Du), p1, 1, ref Ref(_w1u), pe, ref Ref(w.Dp), pe, n, _l[1], pe, false);
    }

    /// <summary>dst = s·v where a &gt; 0, else 0 (ReLU's backward: torch passes the gradient where the output is positive);
    /// lengths are padded to the vector width.</summary>
    private static void Masked(ReadOnlySpan<float> v, float s, ReadOnlySpan<float> a, Span<float> dst)
    {
        var vs = new Vector<float>(s);
        for (int i = 0; i < dst.Length; i += Vector<float>.Count)
            Vector.ConditionalSelect(Vector.GreaterThan(new Vector<float>(a[i..]), Vector<float>.Zero), vs * new Vector<float>(v[i..]), Vector<float>.Zero).CopyTo(dst[i..]);
    }

    /// <summary>a = ReLU(a + b) (padded lengths).</summary>
    private static void AddRelu(Span<float> a, ReadOnlySpan<float> b)
    {
        for (int i = 0; i < a.Length; i += Vector<float>.Count)
            Vector.Max(new Vector<float>(a[i..]) + new Vector<float>(b[i..]), Vector<float>.Zero).CopyTo(a[i..]);
    }

    /// <summary>Adds this chunk's padded dense gradients into gDense (torch layout).</summary>
    private void Scatter(Work w, Span<float> gDense)
    {
        int e = _e;
        for (int l = 1; l <= _m; l++)
        {
            int rows = _l[l], cols = _l[l - 1];
            var gw = gDense.Slice(_offW[l], rows * cols);
            for (int r = 0; r < rows; r++)
            {
                var dst = gw.Slice(r * cols, cols);
                if (l == 1)
                {
                    T.Add(dst[..e], w.Gw1u.AsSpan(r * _pe, e), dst[..e]);
                    T.Add(dst[e..], w.Gw1i.AsSpan(r * _pe, e), dst[e..]);
                }
                else T.Add(dst, w.Gw[l].AsSpan(r * _pl[l - 1], cols), dst);
            }
            T.Add(gDense.Slice(_offB[l], rows), w.Gb[l].AsSpan(0, rows), gDense.Slice(_offB[l], rows));
        }
        var gh = gDense.Slice(_offH + _d, _l[_m]);
        if (_m > 0) T.Add(gh, w.Gh.AsSpan(0, _l[_m]), gh);
        else
        {
            T.Add(gh[..e], w.Gh.AsSpan(0, e), gh[..e]);
            T.Add(gh[e..], w.Gh.AsSpan(_pe, e), gh[e..]);
        }
    }

    // ------------------------------------------------------------------ scoring

    /// <summary>One worker's full-ranking buffers: a user's first-layer half, two activation tiles of a segment.</summary>
    private sealed class Scratch(int width, int pe)
    {
        public readonly float[] U = new float[width], Pm = new float[pe], A = new float[Segment * width], B = new float[Segment * width], Ph = new float[pe];
    }

    /// <summary>The item half of the first layer for every item, y_i = W₁ⁱq'_i + b₁ (or hᵢ·q'_i without hidden layers).</summary>
    public override void CacheItems(float[] items, int si, int count, ReadOnlySpan<float> dense, int workers)
    {
        BeginStep(dense);
        _qTable = items; _si = si;
        int p1 = _m > 0 ? _pl[1] : 1, pe = _pe;
        if (_y.Length != (long)count * p1) _y = new float[(long)count * p1];
        if (_score.Length != workers) _score = Enumerable.Range(0, workers).Select(_ => new Scratch(_pl.Max(), Math.Max(pe, Pad(Math.Max(_d, 1))))).ToArray();
        var qm = new float[Segment * pe];
        for (int i0 = 0; i0 < count; i0 += Segment)
        {
            int cnt = Math.Min(Segment, count - i0);
            for (int i = 0; i < cnt; i++) items.AsSpan((i0 + i) * si + _d, _e).CopyTo(qm.AsSpan(i * pe));
            if (_m == 0) { for (int i = 0; i < cnt; i++) _y[i0 + i] = FusedMath.Dot(qm.AsSpan(i * pe, pe), _hmi); continue; }
            Gemm(ref Ref(qm), pe, 1, ref Ref(_w1iT), p1, ref At(_y, (nint)i0 * p1), p1, cnt, _e, p1, false);
            for (int i = 0; i < cnt; i++) T.Add(_y.AsSpan((i0 + i) * p1, p1), _b[1], _y.AsSpan((i0 + i) * p1, p1));
        }
    }

    public override void ScoreSegment(int worker, ReadOnlySpan<float> p, int i0, Span<float> dst)
    {
        var s = _score[worker];
        int d = _d, e = _e, pe = _pe, cnt = dst.Length;
        p.Slice(d, e).CopyTo(s.Pm);
        if (_m == 0)
        {
            float cu = FusedMath.Dot(s.Pm.AsSpan(0, pe), _hmu);
            for (int i = 0; i < cnt; i++) dst[i] = cu + _y[i0 + i];
        }
        else
        {
            int p1 = _pl[1];
            Gemm(ref Ref(s.Pm), pe, 1, ref Ref(_w1uT), p1, ref Ref(s.U), p1, 1, e, p1, false);
            var a = s.A; var b = s.B;
            for (int i = 0; i < cnt; i++)
            {
                var ai = a.AsSpan(i * p1, p1);
                T.Add(_y.AsSpan((i0 + i) * p1, p1), s.U.AsSpan(0, p1), ai);
                T.Max(ai, 0f, ai);
            }
            UpperTower(a, b, cnt, dst);
        }
        if (d > 0)
        {
            var ph = s.Ph.AsSpan(0, d);
            T.Multiply(p[..d], _hg, ph);
            for (int i = 0; i < cnt; i++) dst[i] += FusedMath.Dot(ph, _qTable.AsSpan((i0 + i) * _si, d));
        }
        T.Add(dst, _hb, dst);
    }

    /// <summary>Layers 2..L of the tower over <paramref name="cnt"/> rows of first-layer activations in <paramref name="a"/>
    /// (<paramref name="b"/> is scratch of the same size), then the MLP part of the logit, hᵀ_MLP a_L, into <paramref name="dst"/>:
    /// the one upper tower of full ranking and pair scoring.</summary>
    private void UpperTower(float[] a, float[] b, int cnt, Span<float> dst)
    {
        for (int l = 2; l <= _m; l++)
        {
            int pin = _pl[l - 1], pout = _pl[l];
            Gemm(ref Ref(a), pin, 1, ref Ref(_wT[l]), pout, ref Ref(b), pout, cnt, _l[l - 1], pout, false);
            for (int i = 0; i < cnt; i++) AddRelu(b.AsSpan(i * pout, pout), _b[l]);
            (a, b) = (b, a);
        }
        int pm = _pl[_m];
        for (int i = 0; i < cnt; i++) dst[i] = FusedMath.Dot(a.AsSpan(i * pm, pm), _hm);
    }

    private float[] _pp = [], _pq = [], _pu = [], _pa = [], _pb = [];

    /// <summary>Blocks of 256 pairs through the same arithmetic as <see cref="ScoreSegment"/> (the item half plus b₁, then the user half).</summary>
    public override void ScorePairs(float[] p, int su, float[] q, int si, ReadOnlySpan<int> users, ReadOnlySpan<int> items, Span<float> scores)
    {
        int d = _d, e = _e, pe = _pe, p1 = _m > 0 ? _pl[1] : 1, widest = _pl.Max();
        if (_pa.Length == 0) { _pp = new float[Segment * pe]; _pq = new float[Segment * pe]; _pu = new float[Segment * p1]; _pa = new float[Segment * widest]; _pb = new float[Segment * widest]; }
        Span<float> ph = stackalloc float[Math.Max(d, 1)];
        for (int x0 = 0; x0 < users.Length; x0 += Segment)
        {
            int cnt = Math.Min(Segment, users.Length - x0);
            var dst = scores.Slice(x0, cnt);
            for (int j = 0; j < cnt; j++)
            {
                p.AsSpan(users[x0 + j] * su + d, e).CopyTo(_pp.AsSpan(j * pe));
                q.AsSpan(items[x0 + j] * si + d, e).CopyTo(_pq.AsSpan(j * pe));
            }
            if (_m == 0)
                for (int j = 0; j < cnt; j++) dst[j] = FusedMath.Dot(_pp.AsSpan(j * pe, pe), _hmu) + FusedMath.Dot(_pq.AsSpan(j * pe, pe), _hmi);
            else
            {
                var a = _pa; var b = _pb;
                Gemm(ref Ref(_pq), pe, 1, ref Ref(_w1iT), p1, ref Ref(a), p1, cnt, e, p1, false);
                Gemm(ref Ref(_pp), pe, 1, ref Ref(_w1uT), p1, ref Ref(_pu), p1, cnt, e, p1, false);
                for (int j = 0; j < cnt; j++)
                {
                    var aj = a.AsSpan(j * p1, p1);
                    T.Add(aj, _b[1], aj);
                    AddRelu(aj, _pu.AsSpan(j * p1, p1));
                }
                UpperTower(a, b, cnt, dst);
            }
            for (int j = 0; d > 0 && j < cnt; j++)
            {
                T.Multiply(p.AsSpan(users[x0 + j] * su, d), _hg, ph);
                dst[j] += FusedMath.Dot(ph, q.AsSpan(items[x0 + j] * si, d));
            }
            T.Add(dst, _hb, dst);
        }
    }
}
