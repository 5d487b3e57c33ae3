using System.Numerics;
using System.Runtime.CompilerServices;
using static Lrml.Models.Fused.FusedMath;

namespace Lrml.Models.Fused;

public sealed unsafe partial class LrmlFused
{
    /// <summary>Per-worker scratch for one example: index 0 is the positive pair, 1..k the negatives.</summary>
    private sealed class Scratch
    {
        public readonly int K;
        public readonly float[] Ph, Qh, S, Logits, A, R, Diff, Gdiff, Gph, Gq, Gr, Gs, Ga, Gl;
        public readonly float[] QScale, QNorm, Dist;
        public readonly int[] Item;

        public Scratch(int k, int dp, int np)
        {
            K = k; int t = k + 1;
            Ph = new float[dp]; Qh = new float[t * dp]; S = new float[t * dp];
            Logits = new float[t * np]; A = new float[t * np]; R = new float[t * dp];
            Diff = new float[t * dp]; Gdiff = new float[t * dp]; Gph = new float[dp]; Gq = new float[t * dp];
            Gr = new float[dp]; Gs = new float[dp]; Ga = new float[np]; Gl = new float[np];
            QScale = new float[t]; QNorm = new float[t]; Dist = new float[t]; Item = new int[t];
        }
    }

    private readonly Scratch[] _scratch;
    private readonly StepWork _stepWork;
    private readonly int[] _userSlot, _itemSlot;

    // Buffers sized by batch capacity × (k + 1); grown on demand, reused across steps.
    private int _capB = -1, _capK = -1;
    private float[] _gpEx = [], _gqEx = [];          // per-example gradient rows (user; positive then negatives)
    private float[] _gu = [], _gi = [];              // reduced gradient per unique user / item
    private double[] _sqU = [], _sqI = [], _thU = [], _thI = []; // per unique row: ‖g‖², ‖θ‖²
    private int[] _uniqU = [], _uniqI = [], _cntU = [], _cntI = [], _offU = [], _offI = [], _occU = [], _occI = [], _slotEx = [];
    private float[] _gktC = [], _gmC = [];           // per-chunk memory gradients
    private double[] _chunkLoss = [];
    private double[] _denseTh = [], _denseG = [];     // per dense block: ‖θ‖², ‖g‖² of untouched rows
    private double _kmTh, _kmSqK, _kmSqM;

    // Current step.
    private TrainingBatch? _batch;
    private int _b, _k, _nu, _ni, _chunks, _rowBlocksU, _rowBlocksI, _denseBlocksU, _denseBlocksI;
    private bool _applyClip;
    private float _scaleP, _scaleQ, _scaleK, _scaleM;
    private float _adamStep, _adamBc2Sqrt, _lazyStep;

    private const int RowBlock = 32, DenseBlock = 256;

    private float[] GktTotal => _gktTotal ??= new float[_n * _dp];
    private float[] GmTotal => _gmTotal ??= new float[_n * _dp];
    private float[]? _gktTotal, _gmTotal;

    private bool TrainMemory => _cfg.TrainMemory;

    /// <summary>
    /// One optimiser step on <paramref name="batch"/> (user b, positive b, negatives b·k..b·k+k−1). Returns the
    /// batch loss: Σ over examples and negatives of max(0, margin + D(u,i⁺) − D(u,i⁻)), plus λ·½Σ‖θ‖² over the
    /// L2 scope of the optimiser (see the class remarks). Allocates nothing once buffers fit the batch shape.
    /// </summary>
    public double TrainStep(TrainingBatch batch)
    {
        double loss = Forward(batch, applyClip: true);
        loss += Update();
        Release();
        _version++;
        return loss;
    }

    /// <summary>
    /// The loss and gradient that <see cref="TrainStep"/> would hand to the optimiser for this batch (before
    /// per-tensor gradient clipping), without changing anything. Gradients are dense arrays in the
    /// <see cref="LrmlParameters"/> layouts (K as d × N). For LazyAdam the L2 part covers the touched rows
    /// of P and Q (and K, M) only, exactly as the step applies it; other optimisers use whole tensors.
    /// Allocates its result; a diagnostic and test API.
    /// </summary>
    public LrmlGradient ComputeGradient(TrainingBatch batch)
    {
        double loss = Forward(batch, applyClip: false);
        var gp = new float[(long)_users * _d]; var gq = new float[(long)_items * _d];
        float l2 = _cfg.L2;
        bool denseL2 = l2 > 0 && _cfg.Optimizer != OptimizerKind.LazyAdam;
        if (denseL2)
        {
            for (long x = 0; x < gp.LongLength; x++) gp[x] = l2 * _p[x / _d * _dp + x % _d];
            for (long x = 0; x < gq.LongLength; x++) gq[x] = l2 * _q[x / _d * _dp + x % _d];
            loss += 0.5 * l2 * DenseL2Pass(out _, out _);
        }
        for (int s = 0; s < _nu; s++) _gu.AsSpan(s * _dp, _d).CopyTo(gp.AsSpan(_uniqU[s] * _d, _d));
        for (int s = 0; s < _ni; s++) _gi.AsSpan(s * _dp, _d).CopyTo(gq.AsSpan(_uniqI[s] * _d, _d));
        float[] gk, gm;
        if (TrainMemory) { gk = KtToK(GktTotal); gm = Unpad(GmTotal, _n); }
        else { gk = new float[_d * _n]; gm = new float[_n * _d]; }
        Release();
        return new LrmlGradient(loss, gp, gq, gk, gm);
    }

    // ------------------------------------------------------------------ forward + backward + reduction

    private double Forward(TrainingBatch batch, bool applyClip)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentNullException.ThrowIfNull(batch);
        int b = batch.Count, k = batch.NegativesPerPositive;
        if (b < 1 || b > batch.Capacity) throw new ArgumentException($"Batch count {b} outside [1, {batch.Capacity}].", nameof(batch));
        EnsureCapacity(b, k);
        _batch = batch; _b = b; _k = k; _applyClip = applyClip;
        PrepareIndex(batch);
        _chunks = (b + _opt.ChunkSize - 1) / _opt.ChunkSize;
        _stepWork.Phase = StepPhase.Examples;
        _pool.Run(_stepWork, _chunks);
        _rowBlocksU = (_nu + RowBlock - 1) / RowBlock;
        _rowBlocksI = (_ni + RowBlock - 1) / RowBlock;
        _stepWork.Phase = StepPhase.Reduce;
        _pool.Run(_stepWork, _rowBlocksU + _rowBlocksI + (TrainMemory ? 1 : 0));
        double loss = 0;
        for (int c = 0; c < _chunks; c++) loss += _chunkLoss[c];
        float l2 = _cfg.L2;
        if (l2 > 0)
        {
            if (TrainMemory) loss += 0.5 * l2 * _kmTh;
            if (_cfg.Optimizer == OptimizerKind.LazyAdam)
            {
                double th = 0;
                for (int s = 0; s < _nu; s++) th += _thU[s];
                for (int s = 0; s < _ni; s++) th += _thI[s];
                loss += 0.5 * l2 * th;
            }
        }
        return loss;
    }

    private void EnsureCapacity(int b, int k)
    {
        if (b <= _capB && k == _capK) return;
        int capB = Math.Max(b, _capB), t = k + 1;
        long exRows = (long)capB * t;
        if (exRows * _dp > Array.MaxLength) throw new ArgumentException("Batch × (negatives + 1) × d is too large for one step.");
        _gpEx = new float[capB * _dp]; _gqEx = new float[exRows * _dp];
        _gu = new float[capB * _dp]; _gi = new float[exRows * _dp];
        _sqU = new double[capB]; _thU = new double[capB]; _sqI = new double[exRows]; _thI = new double[exRows];
        _uniqU = new int[capB]; _cntU = new int[capB]; _offU = new int[capB + 1]; _occU = new int[capB]; _slotEx = new int[exRows];
        _uniqI = new int[exRows]; _cntI = new int[exRows]; _offI = new int[exRows + 1]; _occI = new int[exRows];
        int chunks = (capB + _opt.ChunkSize - 1) / _opt.ChunkSize;
        _gktC = new float[chunks * _n * _dp]; _gmC = new float[chunks * _n * _dp]; _chunkLoss = new double[chunks];
        for (int w = 0; w < _scratch.Length; w++) _scratch[w] = new Scratch(k, _dp, _np);
        _capB = capB; _capK = k;
    }

    /// <summary>Validates indices and builds the unique-row lists and occurrence lists (batch order).</summary>
    private void PrepareIndex(TrainingBatch batch)
    {
        int b = _b, k = _k;
        var users = batch.Users; var pos = batch.Positives; var neg = batch.Negatives;
        for (int x = 0; x < b; x++)
        {
            if ((uint)users[x] >= (uint)_users) throw new ArgumentOutOfRangeException(nameof(batch), $"Users[{x}] = {users[x]} outside [0, {_users}).");
            if ((uint)pos[x] >= (uint)_items) throw new ArgumentOutOfRangeException(nameof(batch), $"Positives[{x}] = {pos[x]} outside [0, {_items}).");
        }
        for (int x = 0; x < b * k; x++)
            if ((uint)neg[x] >= (uint)_items) throw new ArgumentOutOfRangeException(nameof(batch), $"Negatives[{x}] = {neg[x]} outside [0, {_items}).");

        // users: occurrence o = example index (row o of _gpEx)
        int nu = 0;
        for (int x = 0; x < b; x++)
        {
            int u = users[x], s = _userSlot[u];
            if (s < 0) { s = nu++; _userSlot[u] = s; _uniqU[s] = u; _cntU[s] = 0; }
            _cntU[s]++; _slotEx[x] = s;
        }
        _offU[0] = 0;
        for (int s = 0; s < nu; s++) _offU[s + 1] = _offU[s] + _cntU[s];
        for (int s = 0; s < nu; s++) _cntU[s] = _offU[s];
        for (int x = 0; x < b; x++) _occU[_cntU[_slotEx[x]]++] = x;
        _nu = nu;

        // items: occurrence o = row of _gqEx: positive x → x, negative (x, j) → b + x·k + j
        int rows = b * (k + 1), ni = 0;
        for (int o = 0; o < rows; o++)
        {
            int i = o < b ? pos[o] : neg[o - b], s = _itemSlot[i];
            if (s < 0) { s = ni++; _itemSlot[i] = s; _uniqI[s] = i; _cntI[s] = 0; }
            _cntI[s]++; _slotEx[o] = s;
        }
        _offI[0] = 0;
        for (int s = 0; s < ni; s++) _offI[s + 1] = _offI[s] + _cntI[s];
        for (int s = 0; s < ni; s++) _cntI[s] = _offI[s];
        for (int o = 0; o < rows; o++) _occI[_cntI[_slotEx[o]]++] = o;
        _ni = ni;
    }

    private void Release()
    {
        for (int s = 0; s < _nu; s++) _userSlot[_uniqU[s]] = -1;
        for (int s = 0; s < _ni; s++) _itemSlot[_uniqI[s]] = -1;
        _nu = _ni = 0;
        _batch = null;
    }

    private enum StepPhase { Examples, Reduce, DenseNorms, Update }

    private sealed class StepWork(LrmlFused m) : IParallelWork
    {
        public StepPhase Phase;
        public void Execute(int item, int worker)
        {
            switch (Phase)
            {
                case StepPhase.Examples: m.RunChunk(item, worker); break;
                case StepPhase.Reduce: m.RunReduce(item); break;
                case StepPhase.DenseNorms: m.RunDenseNorms(item); break;
                case StepPhase.Update: m.RunUpdate(item); break;
            }
        }
    }

    private void RunChunk(int chunk, int worker)
    {
        var S = _scratch[worker];
        int start = chunk * _opt.ChunkSize, end = Math.Min(_b, start + _opt.ChunkSize);
        int nd = _n * _dp;
        ref float gkt = ref At(_gktC, (nint)chunk * nd);
        ref float gm = ref At(_gmC, (nint)chunk * nd);
        if (TrainMemory) { Zero(ref gkt, nd); Zero(ref gm, nd); }
        double loss = 0;
        for (int x = start; x < end; x++) loss += Example(S, x, ref gkt, ref gm);
        _chunkLoss[chunk] = loss;
    }

    /// <summary>Clip-aware row load: dst = x / max(‖x‖, 1) under Clip, else x. Returns ‖x‖ (0 when not clipping).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private float LoadRow(ref float src, ref float dst)
    {
        if (_cfg.NormConstraint != NormConstraint.Clip) { Copy(ref src, ref dst, _dp); return 0f; }
        float norm = MathF.Sqrt(SumSq(ref src, _dp));
        if (norm >= 1f) Divide(ref src, norm, ref dst, _dp); else Copy(ref src, ref dst, _dp);
        return norm;
    }

    /// <summary>Backward of the clip: g_x = (g − x̂ (x̂·g)) / ‖x‖ when ‖x‖ ≥ 1, else g. Writes into dst.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void ClipBackward(float norm, ref float xh, ref float g, ref float dst)
    {
        int dp = _dp;
        if (_cfg.NormConstraint != NormConstraint.Clip || norm < 1f) { Copy(ref g, ref dst, dp); return; }
        var c = new Vector<float>(Dot(ref xh, ref g, dp));
        var inv = new Vector<float>(norm);
        for (int i = 0; i < dp; i += Vector<float>.Count)
            St((Ld(ref g, i) - Ld(ref xh, i) * c) / inv, ref dst, i);
    }

    /// <summary>Distance of a difference vector.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private float Distance(ref float diff) => _cfg.Distance switch
    {
        LrmlDistance.SqrtL2 => MathF.Sqrt(SumSq(ref diff, _dp) + _cfg.DistanceEpsilon),
        LrmlDistance.SquaredL2 => SumSq(ref diff, _dp),
        _ => SumAbs(ref diff, _dp),
    };

    /// <summary>dst = coef · ∂D/∂diff.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void DistanceGrad(ref float diff, float dist, float coef, ref float dst)
    {
        int dp = _dp, vw = Vector<float>.Count;
        switch (_cfg.Distance)
        {
            case LrmlDistance.SqrtL2:
            {
                var c = new Vector<float>(coef / dist);
                for (int i = 0; i < dp; i += vw) St(Ld(ref diff, i) * c, ref dst, i);
                break;
            }
            case LrmlDistance.SquaredL2:
            {
                var c = new Vector<float>(2f * coef);
                for (int i = 0; i < dp; i += vw) St(Ld(ref diff, i) * c, ref dst, i);
                break;
            }
            default:
            {
                var pc = new Vector<float>(coef); var nc = -pc;
                for (int i = 0; i < dp; i += vw)
                {
                    var x = Ld(ref diff, i);
                    var v = Vector.ConditionalSelect(Vector.GreaterThan(x, Vector<float>.Zero), pc,
                        Vector.ConditionalSelect(Vector.LessThan(x, Vector<float>.Zero), nc, Vector<float>.Zero));
                    St(v, ref dst, i);
                }
                break;
            }
        }
    }

    /// <summary>Forward and backward of example x; writes its gradient rows; returns its loss.</summary>
    private double Example(Scratch S, int x, ref float gkt, ref float gm)
    {
        var batch = _batch!;
        int dp = _dp, n = _n, np = _np, k = _k, b = _b;
        bool recompute = _cfg.NegativeRelation == NegativeRelation.Recompute;
        bool train = TrainMemory;
        ref float kt = ref Ref(_kt); ref float mm = ref Ref(_m);
        ref float ph = ref Ref(S.Ph);
        int u = batch.Users[x];
        float pNorm = LoadRow(ref At(_p, (nint)u * dp), ref ph);
        S.Item[0] = batch.Positives[x];
        for (int t = 1; t <= k; t++) S.Item[t] = batch.Negatives[x * k + t - 1];
        for (int t = 0; t <= k; t++)
            S.QNorm[t] = LoadRow(ref At(_q, (nint)S.Item[t] * dp), ref At(S.Qh, (nint)t * dp));

        // forward
        for (int t = 0; t <= k; t++)
        {
            nint o = (nint)t * dp;
            ref float qh = ref At(S.Qh, o);
            ref float r = ref At(S.R, 0);
            if (t == 0 || recompute)
            {
                r = ref At(S.R, o);
                AttentionForward(ref ph, ref qh, ref At(S.S, o), ref At(S.Logits, (nint)t * np), ref At(S.A, (nint)t * np),
                    ref r, ref kt, ref mm, n, np, dp);
            }
            ref float diff = ref At(S.Diff, o);
            for (int i = 0; i < dp; i += Vector<float>.Count)
                St(Ld(ref ph, i) + Ld(ref r, i) - Ld(ref qh, i), ref diff, i);
            S.Dist[t] = Distance(ref diff);
        }
        float margin = _cfg.Margin, d0 = S.Dist[0];
        double loss = 0; int active = 0;
        for (int t = 1; t <= k; t++)
        {
            float h = margin + d0 - S.Dist[t];
            if (h > 0f) { loss += h; active++; }
        }
        ref float gpOut = ref At(_gpEx, (nint)x * dp);
        if (active == 0)
        {
            Zero(ref gpOut, dp);
            Zero(ref At(_gqEx, (nint)x * dp), dp);
            for (int t = 1; t <= k; t++) Zero(ref At(_gqEx, ((nint)b + (nint)x * k + t - 1) * dp), dp);
            return loss;
        }

        // backward: ∂/∂diff
        DistanceGrad(ref At(S.Diff, 0), d0, active, ref At(S.Gdiff, 0));
        for (int t = 1; t <= k; t++)
        {
            nint o = (nint)t * dp;
            if (margin + d0 - S.Dist[t] > 0f) DistanceGrad(ref At(S.Diff, o), S.Dist[t], -1f, ref At(S.Gdiff, o));
            else Zero(ref At(S.Gdiff, o), dp);
        }
        ref float gph = ref Ref(S.Gph);
        Copy(ref At(S.Gdiff, 0), ref gph, dp);
        for (int t = 1; t <= k; t++) Add(ref At(S.Gdiff, (nint)t * dp), ref gph, dp);
        for (int t = 0; t <= k; t++)
        {
            nint o = (nint)t * dp;
            ref float src = ref At(S.Gdiff, o); ref float gq = ref At(S.Gq, o);
            for (int i = 0; i < dp; i += Vector<float>.Count) St(-Ld(ref src, i), ref gq, i);
        }
        // attention of the positive pair: its r receives every diff that used it
        ref float gr = ref Ref(S.Gr);
        Copy(ref recompute ? ref At(S.Gdiff, 0) : ref gph, ref gr, dp);
        ref float gs = ref Ref(S.Gs);
        AttentionBackward(ref At(S.S, 0), ref At(S.A, 0), ref gr, ref gs, ref Ref(S.Ga), ref Ref(S.Gl),
            ref kt, ref mm, ref gkt, ref gm, n, dp, train);
        AddMul(ref gs, ref At(S.Qh, 0), ref gph, dp);
        AddMul(ref gs, ref ph, ref At(S.Gq, 0), dp);
        if (recompute)
        {
            for (int t = 1; t <= k; t++)
            {
                if (!(margin + d0 - S.Dist[t] > 0f)) continue;
                nint o = (nint)t * dp;
                AttentionBackward(ref At(S.S, o), ref At(S.A, (nint)t * np), ref At(S.Gdiff, o), ref gs, ref Ref(S.Ga), ref Ref(S.Gl),
                    ref kt, ref mm, ref gkt, ref gm, n, dp, train);
                AddMul(ref gs, ref At(S.Qh, o), ref gph, dp);
                AddMul(ref gs, ref ph, ref At(S.Gq, o), dp);
            }
        }
        // through the clip, into the example's gradient rows
        ClipBackward(pNorm, ref ph, ref gph, ref gpOut);
        ClipBackward(S.QNorm[0], ref At(S.Qh, 0), ref At(S.Gq, 0), ref At(_gqEx, (nint)x * dp));
        for (int t = 1; t <= k; t++)
        {
            nint o = (nint)t * dp;
            ClipBackward(S.QNorm[t], ref At(S.Qh, o), ref At(S.Gq, o), ref At(_gqEx, ((nint)b + (nint)x * k + t - 1) * dp));
        }
        return loss;
    }

    /// <summary>Reduce phase: unique rows sum their occurrences (batch order), add L2, clip values; item
    /// index past the row blocks reduces the memory gradients over chunks (chunk order).</summary>
    private void RunReduce(int item)
    {
        int dp = _dp;
        float l2 = _cfg.L2, cv = _applyClip ? _cfg.GradClipValue : 0f;
        if (item < _rowBlocksU + _rowBlocksI)
        {
            bool isUser = item < _rowBlocksU;
            int blk = isUser ? item : item - _rowBlocksU;
            int count = isUser ? _nu : _ni;
            int s0 = blk * RowBlock, s1 = Math.Min(count, s0 + RowBlock);
            float[] ex = isUser ? _gpEx : _gqEx, outg = isUser ? _gu : _gi, table = isUser ? _p : _q;
            int[] off = isUser ? _offU : _offI, occ = isUser ? _occU : _occI, uniq = isUser ? _uniqU : _uniqI;
            double[] sq = isUser ? _sqU : _sqI, th = isUser ? _thU : _thI;
            for (int s = s0; s < s1; s++)
            {
                ref float g = ref At(outg, (nint)s * dp);
                int a = off[s], e = off[s + 1];
                Copy(ref At(ex, (nint)occ[a] * dp), ref g, dp);
                for (int o = a + 1; o < e; o++) Add(ref At(ex, (nint)occ[o] * dp), ref g, dp);
                if (l2 > 0f)
                {
                    ref float w = ref At(table, (nint)uniq[s] * dp);
                    th[s] = SumSq(ref w, dp);
                    Axpy(l2, ref w, ref g, dp);
                }
                if (cv > 0f) ClampValues(ref g, cv, dp);
                sq[s] = SumSq(ref g, dp);
            }
            return;
        }
        // memory
        int nd = _n * dp;
        ReduceChunks(_gktC, GktTotal, nd);
        ReduceChunks(_gmC, GmTotal, nd);
        _kmTh = 0;
        if (l2 > 0f)
        {
            _kmTh = (double)SumSq(ref Ref(_kt), nd) + SumSq(ref Ref(_m), nd);
            Axpy(l2, ref Ref(_kt), ref Ref(GktTotal), nd);
            Axpy(l2, ref Ref(_m), ref Ref(GmTotal), nd);
        }
        if (cv > 0f) { ClampValues(ref Ref(GktTotal), cv, nd); ClampValues(ref Ref(GmTotal), cv, nd); }
        _kmSqK = SumSq(ref Ref(GktTotal), nd);
        _kmSqM = SumSq(ref Ref(GmTotal), nd);
    }

    private void ReduceChunks(float[] chunks, float[] total, int nd)
    {
        ref float t = ref Ref(total);
        Copy(ref Ref(chunks), ref t, nd);
        for (int c = 1; c < _chunks; c++) Add(ref At(chunks, (nint)c * nd), ref t, nd);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void ClampValues(ref float g, float c, int len)
    {
        var hi = new Vector<float>(c); var lo = -hi;
        for (int i = 0; i < len; i += Vector<float>.Count) St(Vector.Min(Vector.Max(Ld(ref g, i), lo), hi), ref g, i);
    }

    // ------------------------------------------------------------------ optimiser

    /// <summary>Dense sweep pass over all rows (parallel, fixed blocks, block order): returns Σ‖θ‖² of P and Q,
    /// and Σ‖clip(λθ)‖² of the untouched rows of P and of Q.</summary>
    private double DenseL2Pass(out double untouchedP, out double untouchedQ)
    {
        _denseBlocksU = (_users + DenseBlock - 1) / DenseBlock;
        _denseBlocksI = (_items + DenseBlock - 1) / DenseBlock;
        int blocks = _denseBlocksU + _denseBlocksI;
        if (_denseTh.Length < blocks) { _denseTh = new double[blocks]; _denseG = new double[blocks]; }
        _stepWork.Phase = StepPhase.DenseNorms;
        _pool.Run(_stepWork, blocks);
        double th = 0; untouchedP = 0; untouchedQ = 0;
        for (int x = 0; x < blocks; x++)
        {
            th += _denseTh[x];
            if (x < _denseBlocksU) untouchedP += _denseG[x]; else untouchedQ += _denseG[x];
        }
        return th;
    }

    /// <summary>Optimiser step; returns the dense L2 loss term (whole tensors) when the sweep computes it.</summary>
    private double Update()
    {
        bool dense = UsesDenseSweep;
        float l2 = _cfg.L2, cn = _cfg.GradClipNorm;
        _denseBlocksU = (_users + DenseBlock - 1) / DenseBlock;
        _denseBlocksI = (_items + DenseBlock - 1) / DenseBlock;
        double extraP = 0, extraQ = 0, l2Loss = 0;
        if (dense && l2 > 0f) l2Loss = 0.5 * l2 * DenseL2Pass(out extraP, out extraQ);
        _scaleP = _scaleQ = _scaleK = _scaleM = 1f;
        if (cn > 0f)
        {
            double sp = extraP, sq = extraQ;
            for (int s = 0; s < _nu; s++) sp += _sqU[s];
            for (int s = 0; s < _ni; s++) sq += _sqI[s];
            _scaleP = NormScale(sp, cn); _scaleQ = NormScale(sq, cn);
            if (TrainMemory) { _scaleK = NormScale(_kmSqK, cn); _scaleM = NormScale(_kmSqM, cn); }
        }
        _step++;
        double bc1 = 1.0 - Math.Pow(Beta1, _step), bc2 = 1.0 - Math.Pow(Beta2, _step);
        _adamStep = (float)(_cfg.LearningRate / bc1);
        _adamBc2Sqrt = (float)Math.Sqrt(bc2);
        _lazyStep = (float)(_cfg.LearningRate * Math.Sqrt(bc2) / bc1);
        _stepWork.Phase = StepPhase.Update;
        int items = (dense ? _denseBlocksU + _denseBlocksI : _rowBlocksU + _rowBlocksI) + (TrainMemory ? 1 : 0);
        _pool.Run(_stepWork, items);
        return l2Loss;
    }

    private static float NormScale(double sumSq, float c)
    {
        double norm = Math.Sqrt(sumSq);
        return norm > c ? (float)(c / norm) : 1f;
    }

    /// <summary>Dense sweep pass, one block: Σ‖θ‖² of its rows and Σ‖clip(λθ)‖² of its untouched rows.</summary>
    private void RunDenseNorms(int item)
    {
        bool isUser = item < _denseBlocksU;
        int blk = isUser ? item : item - _denseBlocksU, rows = isUser ? _users : _items;
        int r0 = blk * DenseBlock, r1 = Math.Min(rows, r0 + DenseBlock), dp = _dp;
        float[] table = isUser ? _p : _q; int[] slot = isUser ? _userSlot : _itemSlot;
        float l2 = _cfg.L2, cv = _applyClip ? _cfg.GradClipValue : 0f;
        var vl2 = new Vector<float>(l2); var hi = new Vector<float>(cv > 0 ? cv : float.MaxValue); var lo = -hi;
        double g2 = 0, th = 0;
        for (int r = r0; r < r1; r++)
        {
            ref float w = ref At(table, (nint)r * dp);
            th += SumSq(ref w, dp);
            if (slot[r] >= 0) continue;
            var acc = Vector<float>.Zero;
            for (int i = 0; i < dp; i += Vector<float>.Count)
            {
                var g = Vector.Min(Vector.Max(Ld(ref w, i) * vl2, lo), hi);
                acc = Fma(g, g, acc);
            }
            g2 += Vector.Sum(acc);
        }
        _denseG[item] = g2;
        _denseTh[item] = th;
    }

    private void RunUpdate(int item)
    {
        bool dense = UsesDenseSweep;
        int nbU = dense ? _denseBlocksU : _rowBlocksU, nbI = dense ? _denseBlocksI : _rowBlocksI;
        if (item >= nbU + nbI) { UpdateMemory(); return; }
        bool isUser = item < nbU;
        int blk = isUser ? item : item - nbU;
        float[] table = isUser ? _p : _q, grads = isUser ? _gu : _gi;
        float[]? s1 = isUser ? _p1 : _q1, s2 = isUser ? _p2 : _q2;
        float scale = isUser ? _scaleP : _scaleQ;
        int dp = _dp;
        bool project = _cfg.NormConstraint == NormConstraint.Project;
        if (!dense)
        {
            int count = isUser ? _nu : _ni;
            int[] uniq = isUser ? _uniqU : _uniqI;
            int a = blk * RowBlock, e = Math.Min(count, a + RowBlock);
            for (int s = a; s < e; s++)
            {
                nint o = (nint)uniq[s] * dp;
                ref float g = ref At(grads, (nint)s * dp);
                UpdateRow(ref At(table, o), ref s1 is null ? ref g : ref At(s1, o), ref s2 is null ? ref g : ref At(s2, o), ref g, scale, dp);
                if (project) ProjectRow(ref At(table, o), dp);
            }
            return;
        }
        int rows = isUser ? _users : _items;
        int[] slot = isUser ? _userSlot : _itemSlot;
        int r0 = blk * DenseBlock, r1 = Math.Min(rows, r0 + DenseBlock);
        // dense rows: untouched rows have gradient clip(λθ) (or 0 without L2)
        float l2 = _cfg.L2, cv = _cfg.GradClipValue;
        for (int r = r0; r < r1; r++)
        {
            nint o = (nint)r * dp;
            int s = slot[r];
            ref float w = ref At(table, o);
            if (s >= 0)
            {
                ref float g = ref At(grads, (nint)s * dp);
                UpdateRow(ref w, ref s1 is null ? ref g : ref At(s1, o), ref s2 is null ? ref g : ref At(s2, o), ref g, scale, dp);
                if (project) ProjectRow(ref w, dp);
            }
            else
            {
                UpdateUntouched(ref w, ref s1 is null ? ref w : ref At(s1, o), ref s2 is null ? ref w : ref At(s2, o), l2, cv, scale, dp);
            }
        }
    }

    /// <summary>One row's optimiser update with gradient g·scale (g untouched).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void UpdateRow(ref float w, ref float s1, ref float s2, ref float g, float scale, int len)
    {
        int vw = Vector<float>.Count;
        var vs = new Vector<float>(scale);
        switch (_cfg.Optimizer)
        {
            case OptimizerKind.Sgd:
            {
                var lr = new Vector<float>(_cfg.LearningRate);
                for (int i = 0; i < len; i += vw) St(Ld(ref w, i) - lr * (Ld(ref g, i) * vs), ref w, i);
                break;
            }
            case OptimizerKind.Adagrad:
            {
                var lr = new Vector<float>(_cfg.LearningRate); var eps = new Vector<float>(AdagradEps);
                for (int i = 0; i < len; i += vw)
                {
                    var gi = Ld(ref g, i) * vs;
                    var acc = Fma(gi, gi, Ld(ref s2, i));
                    St(acc, ref s2, i);
                    St(Ld(ref w, i) - lr * gi / (Vector.SquareRoot(acc) + eps), ref w, i);
                }
                break;
            }
            case OptimizerKind.Adam:
                AdamRow(ref w, ref s1, ref s2, ref g, scale, len);
                break;
            case OptimizerKind.LazyAdam:
            {
                var b1 = new Vector<float>(Beta1); var c1 = new Vector<float>(1f - Beta1);
                var b2 = new Vector<float>(Beta2); var c2 = new Vector<float>(1f - Beta2);
                var step = new Vector<float>(_lazyStep); var eps = new Vector<float>(AdamEps);
                for (int i = 0; i < len; i += vw)
                {
                    var gi = Ld(ref g, i) * vs;
                    var m = b1 * Ld(ref s1, i) + c1 * gi;
                    var v = b2 * Ld(ref s2, i) + c2 * (gi * gi);
                    St(m, ref s1, i); St(v, ref s2, i);
                    St(Ld(ref w, i) - step * (m / (Vector.SquareRoot(v) + eps)), ref w, i);
                }
                break;
            }
        }
    }

    /// <summary>Dense PyTorch Adam on one row: m = β₁m + (1−β₁)g; v = β₂v + (1−β₂)g²;
    /// θ −= (lr/(1−β₁ᵗ)) · m / (√v/√(1−β₂ᵗ) + ε).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void AdamRow(ref float w, ref float s1, ref float s2, ref float g, float scale, int len)
    {
        int vw = Vector<float>.Count;
        var vs = new Vector<float>(scale);
        var b1 = new Vector<float>(Beta1); var c1 = new Vector<float>(1f - Beta1);
        var b2 = new Vector<float>(Beta2); var c2 = new Vector<float>(1f - Beta2);
        var step = new Vector<float>(_adamStep); var bc2 = new Vector<float>(_adamBc2Sqrt); var eps = new Vector<float>(AdamEps);
        for (int i = 0; i < len; i += vw)
        {
            var gi = Ld(ref g, i) * vs;
            var m = b1 * Ld(ref s1, i) + c1 * gi;
            var v = b2 * Ld(ref s2, i) + c2 * (gi * gi);
            St(m, ref s1, i); St(v, ref s2, i);
            St(Ld(ref w, i) - step * (m / (Vector.SquareRoot(v) / bc2 + eps)), ref w, i);
        }
    }

    /// <summary>Dense sweep, untouched row: gradient clip(λθ)·scale (zero without L2).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void UpdateUntouched(ref float w, ref float s1, ref float s2, float l2, float cv, float scale, int len)
    {
        int vw = Vector<float>.Count;
        var vl2 = new Vector<float>(l2); var vs = new Vector<float>(scale);
        var hi = new Vector<float>(cv > 0 ? cv : float.MaxValue); var lo = -hi;
        switch (_cfg.Optimizer)
        {
            case OptimizerKind.Adam:
            {
                var b1 = new Vector<float>(Beta1); var c1 = new Vector<float>(1f - Beta1);
                var b2 = new Vector<float>(Beta2); var c2 = new Vector<float>(1f - Beta2);
                var step = new Vector<float>(_adamStep); var bc2 = new Vector<float>(_adamBc2Sqrt); var eps = new Vector<float>(AdamEps);
                for (int i = 0; i < len; i += vw)
                {
                    var wi = Ld(ref w, i);
                    var gi = Vector.Min(Vector.Max(wi * vl2, lo), hi) * vs;
                    var m = b1 * Ld(ref s1, i) + c1 * gi;
                    var v = b2 * Ld(ref s2, i) + c2 * (gi * gi);
                    St(m, ref s1, i); St(v, ref s2, i);
                    St(wi - step * (m / (Vector.SquareRoot(v) / bc2 + eps)), ref w, i);
                }
                break;
            }
            case OptimizerKind.Sgd:
            {
                if (l2 == 0f) return;
                var lr = new Vector<float>(_cfg.LearningRate);
                for (int i = 0; i < len; i += vw)
                {
                    var wi = Ld(ref w, i);
                    St(wi - lr * (Vector.Min(Vector.Max(wi * vl2, lo), hi) * vs), ref w, i);
                }
                break;
            }
            case OptimizerKind.Adagrad:
            {
                if (l2 == 0f) return;
                var lr = new Vector<float>(_cfg.LearningRate); var eps = new Vector<float>(AdagradEps);
                for (int i = 0; i < len; i += vw)
                {
                    var wi = Ld(ref w, i);
                    var gi = Vector.Min(Vector.Max(wi * vl2, lo), hi) * vs;
                    var acc = Fma(gi, gi, Ld(ref s2, i));
                    St(acc, ref s2, i);
                    St(wi - lr * gi / (Vector.SquareRoot(acc) + eps), ref w, i);
                }
                break;
            }
            default: throw new InvalidOperationException("LazyAdam never sweeps densely.");
        }
    }

    /// <summary>Stored-row projection onto the unit ball: w = w / max(‖w‖, 1).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void ProjectRow(ref float w, int len)
    {
        float norm = MathF.Sqrt(SumSq(ref w, len));
        if (norm > 1f) Divide(ref w, norm, ref w, len);
    }

    private void UpdateMemory()
    {
        int nd = _n * _dp;
        ref float gk = ref Ref(GktTotal); ref float gmv = ref Ref(GmTotal);
        switch (_cfg.Optimizer)
        {
            case OptimizerKind.Adam:
            case OptimizerKind.LazyAdam:
                AdamRow(ref Ref(_kt), ref Ref(_kt1!), ref Ref(_kt2!), ref gk, _scaleK, nd);
                AdamRow(ref Ref(_m), ref Ref(_m1!), ref Ref(_m2!), ref gmv, _scaleM, nd);
                break;
            case OptimizerKind.Adagrad:
                UpdateRow(ref Ref(_kt), ref gk, ref Ref(_kt2!), ref gk, _scaleK, nd);
                UpdateRow(ref Ref(_m), ref gmv, ref Ref(_m2!), ref gmv, _scaleM, nd);
                break;
            default:
                UpdateRow(ref Ref(_kt), ref gk, ref gk, ref gk, _scaleK, nd);
                UpdateRow(ref Ref(_m), ref gmv, ref gmv, ref gmv, _scaleM, nd);
                break;
        }
    }
}

/// <summary>A batch loss and its gradient in the <see cref="LrmlParameters"/> layouts (dense arrays).</summary>
/// <param name="Loss">Batch loss (hinge sum plus the L2 term in the optimiser's scope).</param>
/// <param name="P">∂loss/∂P, users × d.</param>
/// <param name="Q">∂loss/∂Q, items × d.</param>
/// <param name="K">∂loss/∂K, d × N (zero when memory is frozen).</param>
/// <param name="M">∂loss/∂M, N × d (zero when memory is frozen).</param>
public sealed record LrmlGradient(double Loss, float[] P, float[] Q, float[] K, float[] M);
