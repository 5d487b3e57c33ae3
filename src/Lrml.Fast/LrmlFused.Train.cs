using System.Numerics;
using System.Runtime.CompilerServices;
using static Lrml.Fast.FusedMath;

using Lrml.Models;
using Lrml.Util;

namespace Lrml.Fast;

public sealed unsafe partial class LrmlFused
{
    /// <summary>Per-worker scratch for one chunk of C examples with T = k + 1 items each (index 0 = positive)
    /// and A attention pairs each (1 when the negative reuses the positive relation, else T).</summary>
    private sealed class Scratch
    {
        public readonly float[] Ph, Pn, Qh, Qn, S, Lg, At, R, Diff, Dist, Grc, Ga, Gl, Gs, Gph, Gq;
        public readonly int[] MapE, MapT;
        public readonly bool[] Active;
        // WARP: one sampled negative at a time (clipped row, its attention when recomputed, residual)
        public readonly float[] Wq = [], Ws = [], Wl = [], Wa = [], Wr = [], Wd = [];

        public Scratch(int c, int t, int a, int dp, int np, bool warp)
        {
            if (warp) { Wq = new float[dp]; Ws = new float[dp]; Wl = new float[np]; Wa = new float[np]; Wr = new float[dp]; Wd = new float[dp]; }
            Ph = new float[c * dp]; Pn = new float[c]; Qh = new float[c * t * dp]; Qn = new float[c * t];
            S = new float[c * a * dp]; Lg = new float[c * a * np]; At = new float[c * a * np]; R = new float[c * a * dp];
            Diff = new float[c * t * dp]; Dist = new float[c * t];
            Grc = new float[c * a * dp];
            Ga = new float[c * a * np]; Gl = new float[c * a * np]; Gs = new float[c * a * dp];
            Gph = new float[c * dp]; Gq = new float[c * t * dp];
            MapE = new int[c * a]; MapT = new int[c * a]; Active = new bool[c];
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
    private int[] _exUserSlot = [];
    private int[] _uniqU = [], _uniqI = [], _cntU = [], _cntI = [], _offU = [], _offI = [], _occU = [], _occI = [], _slotEx = [];
    private float[] _gktC = [], _gmC = [];           // per-chunk memory gradients
    private double[] _chunkLoss = [];
    private double[] _denseTh = [], _denseG = [];     // per dense block: ‖θ‖², ‖g‖² of untouched rows
    private double _kmTh, _kmSqK, _kmSqM;

    // Current step.
    private TrainingBatch? _batch;
    private int _b, _k, _nu, _ni, _chunks, _rowBlocksU, _rowBlocksI, _denseBlocksU, _denseBlocksI;
    private bool _applyClip, _fuse;
    private float _scaleP, _scaleQ, _scaleK, _scaleM;
    private float _adamStep, _adamStepMemory, _adamBc2Sqrt, _lazyStep;

    /// <summary>
    /// Whether exact Adam moves the rows no example touched with <see cref="EmbeddingEngine.ZeroGradientAdam"/> (the bits of
    /// the sweep's own update, without its square root and divisions where they provably change nothing, and without the
    /// processor's slow path for subnormal moments). On by default for tables above <see cref="EmbeddingEngine.ReplayMinBytes"/>
    /// (the ML-20M and Netflix shapes), where those rows replay their owed steps (<see cref="ReplayUnreadRows"/>; the sweep
    /// takes it when replay is switched off): the moments of rows idle for hundreds of steps decay into subnormal floats,
    /// and on the ML-20M shape (d 100, N 20) the plain sweep fell from 0.076 to 0.019 M triples/s within 4,000 steps. It
    /// applies only with L2 = 0 (an untouched row's gradient is then clip(0·θ)·scale = ±0) and to rows whose gradient acts
    /// as +0 (<see cref="ZeroGradientActsAsPlusZero"/>). Settable for tests.
    /// </summary>
    internal bool ZeroGradientShortcut { get; set; }

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
        lock (_gate)
        {
            var clock = _pool.Clock;
            clock?.BeginStep();
            // Without a norm clip, the row-sparse optimisers (and a replaying exact Adam) update each row right after reducing
            // its gradient.
            bool fuse = !SweepsEveryStep && _cfg.GradClipNorm == 0f;
            if (_atU is not null && _step + 1 - _owedFrom >= OwedStepLimit) CatchUpAll();
            try
            {
                double loss = Forward(batch, applyClip: true, fuseUpdate: fuse, advanceWarp: true);
                if (TrainMemory)
                {
                    _gradSumK += Math.Sqrt(_hingeSqK);
                    _gradSumM += Math.Sqrt(_hingeSqM);
                    _gradSteps++;
                }
                if (!fuse) loss += Update();
                MarkTouchedRows();
                return loss;
            }
            finally
            {
                Release();
                _version++;
                clock?.EndStep();
            }
        }
    }

    /// <inheritdoc/>
    PhaseClock? IPhaseTimed.PhaseClock { get => _pool.Clock; set { lock (_gate) _pool.Clock = value; } }   // never in the middle of a step

    /// <inheritdoc/>
    long IPhaseTimed.SweptAdamFloats =>   // not with the zero-gradient shortcut (big tables without replay: tests only), which skips work
        _cfg.Optimizer == OptimizerKind.Adam && SweepsEveryStep && !ZeroGradientShortcut ? ((long)_users + _items) * _dp : 0;

    private double _hingeSqK, _hingeSqM, _gradSumK, _gradSumM;
    private int _gradSteps;

    /// <inheritdoc/>
    public MemoryGradientNorms TakeMemoryGradientNorms()
    {
        lock (_gate)
        {
            var taken = new MemoryGradientNorms(_gradSumK, _gradSumM, _gradSteps);
            _gradSumK = _gradSumM = 0;
            _gradSteps = 0;
            return taken;
        }
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
        lock (_gate) return Gradient(batch);   // (replaying: the rows it reads catch up in Forward; L2 = 0, so no other row has a gradient)
    }

    private LrmlGradient Gradient(TrainingBatch batch)
    {
        try { return GradientCore(batch); }
        finally { Release(); }
    }

    private LrmlGradient GradientCore(TrainingBatch batch)
    {
        double loss = Forward(batch, applyClip: false, fuseUpdate: false);
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
        return new LrmlGradient(loss, gp, gq, gk, gm);
    }

    // ------------------------------------------------------------------ forward + backward + reduction

    private double Forward(TrainingBatch batch, bool applyClip, bool fuseUpdate, bool advanceWarp = false)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentNullException.ThrowIfNull(batch);
        int b = batch.Count, k = batch.NegativesPerPositive;
        if (b < 1 || b > batch.Capacity) throw new ArgumentException($"Batch count {b} outside [1, {batch.Capacity}].", nameof(batch));
        EnsureCapacity(b, k);
        _batch = batch; _b = b; _k = k; _applyClip = applyClip; _fuse = fuseUpdate;
        ValidateIndices(batch);
        if (_warp is not null) { LastWarpNegatives = _warp.Draw(batch, advanceWarp); _pool.Clock?.Lap("own negative draws (WARP)"); }
        CatchUpBatch();
        _chunks = (b + _opt.ChunkSize - 1) / _opt.ChunkSize;
        BuildMemoryLayouts();
        // fused: rows are updated in the reduce phase, right after their gradient is summed, so the step's
        // constants (t, bias corrections) are set before it
        if (fuseUpdate) { _scaleP = _scaleQ = _scaleK = _scaleM = 1f; AdvanceStep(); }
        // item 0 builds the unique-row index (needed from the reduce phase on) while the chunks run
        _stepWork.Phase = StepPhase.Examples;
        _pool.Run(_stepWork, _chunks + 1);
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

    // K and M as d × np (columns = slots, zero padded): the B operands of logits = S·K and ∂a = Gr·Mᵀ.
    private float[] _kd = [], _md = [];

    private void BuildMemoryLayouts()
    {
        if (_kd.Length != _d * _np) { _kd = new float[_d * _np]; _md = new float[_d * _np]; }
        for (int x = 0; x < _n; x++)
        {
            int o = x * _dp;
            for (int j = 0; j < _d; j++) { _kd[j * _np + x] = _kt[o + j]; _md[j * _np + x] = _m[o + j]; }
        }
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
        _uniqU = new int[capB]; _cntU = new int[capB]; _offU = new int[capB + 1]; _occU = new int[capB]; _slotEx = new int[exRows]; _exUserSlot = new int[capB];
        _uniqI = new int[exRows]; _cntI = new int[exRows]; _offI = new int[exRows + 1]; _occI = new int[exRows];
        int chunks = (capB + _opt.ChunkSize - 1) / _opt.ChunkSize;
        _gktC = new float[chunks * _n * _dp]; _gmC = new float[chunks * _n * _dp]; _chunkLoss = new double[chunks];
        int pairs = _cfg.NegativeRelation == NegativeRelation.Recompute ? k + 1 : 1;
        for (int w = 0; w < _scratch.Length; w++) _scratch[w] = new Scratch(Math.Min(_opt.ChunkSize, capB), k + 1, pairs, _dp, _np, _warp is not null);
        _capB = capB; _capK = k;
    }

    /// <summary>Checks every index of the batch before any row is read.</summary>
    private void ValidateIndices(TrainingBatch batch)
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
    }

    /// <summary>Builds the unique-row lists and occurrence lists (batch order) of the current (validated) batch.
    /// Reads and writes only the index arrays, so it runs next to the chunks of the examples phase.</summary>
    private void BuildIndex()
    {
        int b = _b, k = _k;
        var batch = _batch!;
        var users = batch.Users; var pos = batch.Positives; var neg = batch.Negatives;

        // users: occurrence o = example index (row o of _gpEx)
        int nu = 0;
        for (int x = 0; x < b; x++)
        {
            int u = users[x], s = _userSlot[u];
            // _nu grows with every slot handed out, so Release() resets exactly the slots set even if a
            // step is abandoned half-way
            if (s < 0) { s = nu++; _uniqU[s] = u; _nu = nu; _userSlot[u] = s; _cntU[s] = 0; }
            _cntU[s]++; _exUserSlot[x] = s;
        }
        _offU[0] = 0;
        for (int s = 0; s < nu; s++) _offU[s + 1] = _offU[s] + _cntU[s];
        for (int s = 0; s < nu; s++) _cntU[s] = _offU[s];
        for (int x = 0; x < b; x++) _occU[_cntU[_exUserSlot[x]]++] = x;
        _nu = nu;

        // items: occurrence o = row of _gqEx: positive x → x, negative (x, j) → b + x·k + j
        int rows = b * (k + 1), ni = 0;
        for (int o = 0; o < rows; o++)
        {
            int i = o < b ? pos[o] : neg[o - b], s = _itemSlot[i];
            if (s < 0) { s = ni++; _uniqI[s] = i; _ni = ni; _itemSlot[i] = s; _cntI[s] = 0; }
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

    private enum StepPhase { Examples, Reduce, DenseNorms, Update, CatchUp, CatchUpAll }

    private sealed class StepWork(LrmlFused m) : IParallelWork
    {
        public StepPhase Phase;
        string IParallelWork.Phase => Phase switch
        {
            StepPhase.Examples => "examples (and index)",
            StepPhase.Reduce => "rows (gradient sums; updates when not clipped)",
            StepPhase.DenseNorms => "L2 pass (every row)",
            StepPhase.Update => "update (clipped or swept)",
            StepPhase.CatchUp => "replay owed steps",
            _ => "catch up every row",
        };
        public void Execute(int item, int worker)
        {
            switch (Phase)
            {
                case StepPhase.Examples: if (item == 0) m.BuildIndex(); else m.RunChunk(item - 1, worker); break;
                case StepPhase.Reduce: m.RunReduce(item); break;
                case StepPhase.DenseNorms: m.RunDenseNorms(item); break;
                case StepPhase.Update: m.RunUpdate(item); break;
                case StepPhase.CatchUp: m.OwedRows.Run(item); break;
                case StepPhase.CatchUpAll: m.RunCatchUpAll(item); break;
            }
        }
    }

    /// <summary>
    /// Forward and backward of one chunk of examples, staged so that every attention product is a small
    /// GEMM over the chunk (logits = S·K, r = A·M, ∂a = Gr·Mᵀ, ∂s = Gl·Kᵀ, ∂M = Aᵀ·Gr, ∂K = Slᵀ·Gl) instead
    /// of per-example dot products and read-modify-write updates of the memory gradients.
    /// </summary>
    private void RunChunk(int chunk, int worker)
    {
        var S = _scratch[worker];
        var batch = _batch!;
        int dp = _dp, np = _np, n = _n, d = _d, k = _k, b = _b, T = k + 1;
        bool recompute = _cfg.NegativeRelation == NegativeRelation.Recompute, train = TrainMemory;
        int A = recompute ? T : 1;
        int e0 = chunk * _opt.ChunkSize, c = Math.Min(_opt.ChunkSize, b - e0);
        int nd = n * dp;
        ref float gkt = ref At(_gktC, (nint)chunk * nd);
        ref float gm = ref At(_gmC, (nint)chunk * nd);
        if (train) { Zero(ref gkt, nd); Zero(ref gm, nd); }
        var users = batch.Users; var pos = batch.Positives; var neg = batch.Negatives;

        // 1. rows (clipped), s = p ⊙ q of every attention pair; prefetch a few examples ahead
        const int ahead = 3;
        for (int e = 0; e < Math.Min(ahead, c); e++) PrefetchExample(e0 + e);
        for (int e = 0; e < c; e++)
        {
            int x = e0 + e;
            if (e + ahead < c) PrefetchExample(x + ahead);
            ref float ph = ref At(S.Ph, (nint)e * dp);
            S.Pn[e] = LoadRow(ref At(_p, (nint)users[x] * dp), ref ph);
            for (int t = 0; t < T; t++)
            {
                int item = t == 0 ? pos[x] : neg[x * k + t - 1];
                S.Qn[e * T + t] = LoadRow(ref At(_q, (nint)item * dp), ref At(S.Qh, (nint)(e * T + t) * dp));
            }
            for (int a = 0; a < A; a++)
            {
                ref float qh = ref At(S.Qh, (nint)(e * T + a) * dp);
                ref float sp = ref At(S.S, (nint)(e * A + a) * dp);
                for (int i = 0; i < dp; i += Vector<float>.Count) St(Ld(ref ph, i) * Ld(ref qh, i), ref sp, i);
            }
        }
        int rows = c * A;
        // 2-4. logits = S·K, a = softmax, r = a·M
        Gemm(ref Ref(S.S), dp, 1, ref Ref(_kd), np, ref Ref(S.Lg), np, rows, d, np, false);
        if (_invTemperature != 1f) Scale(ref Ref(S.Lg), _invTemperature, rows * np);
        for (int p = 0; p < rows; p++) Softmax(ref At(S.Lg, (nint)p * np), ref At(S.At, (nint)p * np), n, np);
        Gemm(ref Ref(S.At), np, 1, ref Ref(_m), dp, ref Ref(S.R), dp, rows, n, dp, false);

        // 5. distances, hinge, ∂/∂diff; collect the pairs that need an attention backward
        float margin = _cfg.Margin;
        double loss = 0;
        int ca = 0;
        for (int e = 0; e < c; e++)
        {
            int x = e0 + e;
            ref float ph = ref At(S.Ph, (nint)e * dp);
            for (int t = 0; t < T; t++)
            {
                ref float r = ref At(S.R, (nint)(e * A + (recompute ? t : 0)) * dp);
                ref float qh = ref At(S.Qh, (nint)(e * T + t) * dp);
                ref float diff = ref At(S.Diff, (nint)(e * T + t) * dp);
                for (int i = 0; i < dp; i += Vector<float>.Count) St(Ld(ref ph, i) + Ld(ref r, i) - Ld(ref qh, i), ref diff, i);
                S.Dist[e * T + t] = Distance(ref diff);
            }
            float d0 = S.Dist[e * T];
            float w = _warp is null ? 1f : WarpWeight(S, e, x, d0);
            int active = 0;
            for (int t = 1; t < T; t++)
            {
                float h = margin + d0 - S.Dist[e * T + t];
                if (h > 0f) { loss += _warp is null ? h : (double)w * h; active++; }
            }
            S.Active[e] = active > 0;
            if (active == 0) continue;
            ref float gph = ref At(S.Gph, (nint)e * dp);
            for (int t = 0; t < T; t++)
            {
                ref float diff = ref At(S.Diff, (nint)(e * T + t) * dp); // becomes ∂loss/∂diff in place
                float dt = S.Dist[e * T + t];
                if (t == 0) DistanceGrad(ref diff, dt, active * w, ref diff);
                else if (margin + d0 - dt > 0f) DistanceGrad(ref diff, dt, -w, ref diff);
                else Zero(ref diff, dp);
                ref float gq = ref At(S.Gq, (nint)(e * T + t) * dp);
                for (int i = 0; i < dp; i += Vector<float>.Count) St(-Ld(ref diff, i), ref gq, i);
                if (t == 0) Copy(ref diff, ref gph, dp); else Add(ref diff, ref gph, dp);
            }
            for (int a = 0; a < A; a++)
            {
                if (a > 0 && !(margin + d0 - S.Dist[e * T + a] > 0f)) continue; // inactive recomputed negative
                int p = e * A + a;
                // the positive pair's relation receives every diff that used it (all of them under reuse)
                Copy(ref recompute ? ref At(S.Diff, (nint)(e * T + a) * dp) : ref gph, ref At(S.Grc, (nint)ca * dp), dp);
                if (ca < p)
                {
                    // compact in place: rows below p belong to pairs already handled
                    Copy(ref At(S.S, (nint)p * dp), ref At(S.S, (nint)ca * dp), dp);
                    Copy(ref At(S.At, (nint)p * np), ref At(S.At, (nint)ca * np), np);
                }
                S.MapE[ca] = e; S.MapT[ca] = a;
                ca++;
            }
        }
        _chunkLoss[chunk] = loss;
        if (ca > 0) ChunkBackward(S, ca, ref gkt, ref gm);
        EmitRows(S, e0, c);
    }

    /// <summary>Stages 6–10 of <see cref="RunChunk"/>: attention backward of the ca collected pairs.</summary>
    private void ChunkBackward(Scratch S, int ca, ref float gkt, ref float gm)
    {
        int dp = _dp, np = _np, n = _n, d = _d, T = _k + 1;
        bool train = TrainMemory;
        // 6-9. ∂a = Gr·Mᵀ, ∂logits (softmax backward), ∂s = Gl·Kᵀ, ∂M += Aᵀ·Gr, ∂K += Slᵀ·Gl
        Gemm(ref Ref(S.Grc), dp, 1, ref Ref(_md), np, ref Ref(S.Ga), np, ca, d, np, false);
        for (int q = 0; q < ca; q++)
        {
            ref float aq = ref At(S.At, (nint)q * np); ref float gaq = ref At(S.Ga, (nint)q * np); ref float glq = ref At(S.Gl, (nint)q * np);
            var dot = new Vector<float>(Dot(ref aq, ref gaq, np));
            for (int i = 0; i < np; i += Vector<float>.Count) St(Ld(ref aq, i) * (Ld(ref gaq, i) - dot), ref glq, i);
        }
        if (_invTemperature != 1f) Scale(ref Ref(S.Gl), _invTemperature, ca * np);   // logits = s·K / τ
        Gemm(ref Ref(S.Gl), np, 1, ref Ref(_kt), dp, ref Ref(S.Gs), dp, ca, n, dp, false);
        if (train)
        {
            Gemm(ref Ref(S.At), 1, np, ref Ref(S.Grc), dp, ref gm, dp, n, ca, dp, true);
            Gemm(ref Ref(S.Gl), 1, np, ref Ref(S.S), dp, ref gkt, dp, n, ca, dp, true);
        }
        // 10. s = p ⊙ q: ∂p += ∂s ⊙ q, ∂q += ∂s ⊙ p
        for (int q = 0; q < ca; q++)
        {
            int e = S.MapE[q], t = S.MapT[q];
            ref float gs = ref At(S.Gs, (nint)q * dp);
            AddMul(ref gs, ref At(S.Qh, (nint)(e * T + t) * dp), ref At(S.Gph, (nint)e * dp), dp);
            AddMul(ref gs, ref At(S.Ph, (nint)e * dp), ref At(S.Gq, (nint)(e * T + t) * dp), dp);
        }
    }

    /// <summary>WARP weight of example x (chunk row e) with positive distance d0: the impostors among its U drawn negatives
    /// (see <see cref="LrmlWarp"/>), each scored with the positive's relation (reuse) or its own (recompute).</summary>
    private float WarpWeight(Scratch S, int e, int x, float d0)
    {
        int dp = _dp, u = _warp!.Negatives, impostors = 0;
        bool recompute = _cfg.NegativeRelation == NegativeRelation.Recompute;
        ref float ph = ref At(S.Ph, (nint)e * dp);
        ref float r0 = ref At(S.R, (nint)(e * (recompute ? _k + 1 : 1)) * dp);
        ref float qw = ref Ref(S.Wq); ref float rw = ref Ref(S.Wr); ref float dw = ref Ref(S.Wd);
        var drawn = LastWarpNegatives!;
        for (int j = 0; j < u; j++)
        {
            LoadRow(ref At(_q, (nint)drawn[x * u + j] * dp), ref qw);
            if (recompute)
                AttentionForward(ref ph, ref qw, ref Ref(S.Ws), ref Ref(S.Wl), ref Ref(S.Wa), ref rw, ref Ref(_kt), ref Ref(_m), _n, _np, dp, _invTemperature);
            ref float r = ref (recompute ? ref rw : ref r0);
            for (int i = 0; i < dp; i += Vector<float>.Count) St(Ld(ref ph, i) + Ld(ref r, i) - Ld(ref qw, i), ref dw, i);
            if (d0 - Distance(ref dw) + _cfg.Margin > 0f) impostors++;   // the reference's order: (D⁺ − D_j) + margin
        }
        return _warp.Weight(impostors);
    }

    /// <summary>The U negatives per positive drawn for WARP at the last step or gradient (row-major B × U), for tests.</summary>
    internal int[]? LastWarpNegatives { get; private set; }

    /// <summary>
    /// Stage 11: each example's row gradients through the clip into the per-example buffers (zeros for an
    /// example without an active hinge: its rows still count as touched). Finishing rows that occur once
    /// right here, while in cache, was measured slower than the separate reduce phase (more outstanding
    /// prefetches per example), so every row goes through the reduce phase.
    /// </summary>
    private void EmitRows(Scratch S, int e0, int c)
    {
        int dp = _dp, k = _k, b = _b, T = k + 1;
        for (int e = 0; e < c; e++)
        {
            int x = e0 + e;
            bool active = S.Active[e];
            ref float gp = ref At(_gpEx, (nint)x * dp);
            if (active) ClipBackward(S.Pn[e], ref At(S.Ph, (nint)e * dp), ref At(S.Gph, (nint)e * dp), ref gp);
            else Zero(ref gp, dp);
            for (int t = 0; t < T; t++)
            {
                ref float gq = ref At(_gqEx, (t == 0 ? x : (nint)b + (nint)x * k + t - 1) * dp);
                if (active) ClipBackward(S.Qn[e * T + t], ref At(S.Qh, (nint)(e * T + t) * dp), ref At(S.Gq, (nint)(e * T + t) * dp), ref gq);
                else Zero(ref gq, dp);
            }
        }
    }

    /// <summary>L2 (+λθ), value clip, optimiser update and projection of one stored row with summed gradient
    /// g (modified). Returns ‖θ‖² before the update (for the L2 loss; 0 without L2).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private double FinishRow(float[] table, float[]? st1, float[]? st2, int row, ref float g)
    {
        int dp = _dp;
        nint o = (nint)row * dp;
        ref float w = ref At(table, o);
        double th = 0;
        float l2 = _cfg.L2, cv = _applyClip ? _cfg.GradClipValue : 0f;
        if (l2 > 0f) { th = SumSq(ref w, dp); Axpy(l2, ref w, ref g, dp); }
        if (cv > 0f) ClampValues(ref g, cv, dp);
        UpdateRow(ref w, ref st1 is null ? ref g : ref At(st1, o), ref st2 is null ? ref g : ref At(st2, o), ref g, 1f, dp);
        if (_cfg.NormConstraint == NormConstraint.Project) ProjectRow(ref w, dp);
        return th;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void PrefetchExample(int x)
    {
        var batch = _batch!;
        int dp = _dp, k = _k;
        CacheHint.PrefetchRange(_p, (nint)batch.Users[x] * dp, dp);
        CacheHint.PrefetchRange(_q, (nint)batch.Positives[x] * dp, dp);
        for (int j = 0; j < k; j++) CacheHint.PrefetchRange(_q, (nint)batch.Negatives[x * k + j] * dp, dp);
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

    /// <summary>Reduce phase: unique rows sum their occurrences (batch order), add L2, clip values; item
    /// index past the row blocks reduces the memory gradients over chunks (chunk order).</summary>
    private void RunReduce(int item)
    {
        // item 0 is the memory (one long item, handed out first); rows follow
        if (TrainMemory) item = item == 0 ? _rowBlocksU + _rowBlocksI : item - 1;
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
            float[]? st1 = isUser ? _p1 : _q1, st2 = isUser ? _p2 : _q2;
            bool fuse = _fuse;
            for (int s = s0; s < s1; s++)
            {
                if (fuse && s + 2 < count) EmbeddingEngine.PrefetchRow(table, st1, st2, (long)uniq[s + 2] * dp, dp);
                int a = off[s], e = off[s + 1];
                // fused: a row that occurs once is finished on its per-example gradient row (scratch) in place
                if (fuse && e == a + 1) { th[s] = FinishRow(table, st1, st2, uniq[s], ref At(ex, (nint)occ[a] * dp)); continue; }
                ref float g = ref At(outg, (nint)s * dp);
                Copy(ref At(ex, (nint)occ[a] * dp), ref g, dp);
                for (int o = a + 1; o < e; o++) Add(ref At(ex, (nint)occ[o] * dp), ref g, dp);
                if (fuse) { th[s] = FinishRow(table, st1, st2, uniq[s], ref g); continue; }
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
        _hingeSqK = SumSq(ref Ref(GktTotal), nd);   // the hinge gradient's norms, for the memory-usage diagnostics
        _hingeSqM = SumSq(ref Ref(GmTotal), nd);
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
        if (_fuse) UpdateMemory();
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
        bool dense = SweepsEveryStep;
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
        AdvanceStep();
        _stepWork.Phase = StepPhase.Update;
        int items = (dense ? _denseBlocksU + _denseBlocksI : _rowBlocksU + _rowBlocksI) + (TrainMemory ? 1 : 0);
        _pool.Run(_stepWork, items);
        return l2Loss;
    }

    /// <summary>t ← t + 1 and the bias corrections of Adam at t (double, rounded to float once).</summary>
    private void AdvanceStep()
    {
        _step++;
        _factors = StepFactors.At(_cfg.LearningRate, _step);
        _adamStep = _factors.AdamStep; _adamBc2Sqrt = _factors.AdamBc2; _lazyStep = _factors.LazyStep;
        _adamStepMemory = StepFactors.At(_cfg.EffectiveMemoryLearningRate, _step).AdamStep;
        RecordOwedStep();
    }

    private StepFactors _factors;

    /// <summary>Whether the gradient clip(0·θ)·scale of an untouched row gives Adam the bits of a +0 gradient: every θ finite
    /// (0·±∞ and 0·NaN are NaN) and no first moment −0 (β₁·(−0) + (−0) is −0 where +0 gives +0; a −0 gradient changes
    /// nothing else: g² is +0, and a nonzero β₁m plus ±0 is β₁m). Training from zero moments never makes a −0 moment.</summary>
    internal static bool ZeroGradientActsAsPlusZero(ref float w, ref float m1, int len)
    {
        var inf = new Vector<float>(float.PositiveInfinity); var negZero = new Vector<int>(int.MinValue);
        for (int i = 0; i < len; i += Vector<float>.Count)
            if (!Vector.LessThanAll(Vector.Abs(Ld(ref w, i)), inf) || Vector.EqualsAny(Vector.AsVectorInt32(Ld(ref m1, i)), negZero)) return false;
        return true;
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
        bool dense = SweepsEveryStep;
        int nbU = dense ? _denseBlocksU : _rowBlocksU, nbI = dense ? _denseBlocksI : _rowBlocksI;
        if (TrainMemory) item = item == 0 ? nbU + nbI : item - 1; // memory first
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
                if (s + 2 < count) EmbeddingEngine.PrefetchRow(table, s1, s2, (long)uniq[s + 2] * dp, dp);
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
        bool shortcut = ZeroGradientShortcut && _cfg.Optimizer == OptimizerKind.Adam && l2 == 0f;
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
            else if (shortcut && ZeroGradientActsAsPlusZero(ref w, ref At(s1!, o), dp))
                EmbeddingEngine.ZeroGradientAdam(_factors, ref w, ref At(s1!, o), ref At(s2!, o), dp);
            else
            {
                UpdateUntouched(ref w, ref s1 is null ? ref w : ref At(s1, o), ref s2 is null ? ref w : ref At(s2, o), l2, cv, scale, dp, _factors);
            }
        }
    }

    /// <summary>One row's optimiser update with gradient g·scale (g untouched); <paramref name="memory"/> selects the
    /// memory's learning rate (K, M).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void UpdateRow(ref float w, ref float s1, ref float s2, ref float g, float scale, int len, bool memory = false)
    {
        int vw = Vector<float>.Count;
        var vs = new Vector<float>(scale);
        float rate = memory ? _cfg.EffectiveMemoryLearningRate : _cfg.LearningRate;
        switch (_cfg.Optimizer)
        {
            case OptimizerKind.Sgd:
            {
                var lr = new Vector<float>(rate);
                for (int i = 0; i < len; i += vw) St(Ld(ref w, i) - lr * (Ld(ref g, i) * vs), ref w, i);
                break;
            }
            case OptimizerKind.Adagrad:
            {
                var lr = new Vector<float>(rate); var eps = new Vector<float>(AdagradEps);
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
                AdamRow(ref w, ref s1, ref s2, ref g, scale, len, memory ? _adamStepMemory : _adamStep);
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
    private void AdamRow(ref float w, ref float s1, ref float s2, ref float g, float scale, int len, float stepSize)
    {
        int vw = Vector<float>.Count;
        var vs = new Vector<float>(scale);
        var b1 = new Vector<float>(Beta1); var c1 = new Vector<float>(1f - Beta1);
        var b2 = new Vector<float>(Beta2); var c2 = new Vector<float>(1f - Beta2);
        var step = new Vector<float>(stepSize); var bc2 = new Vector<float>(_adamBc2Sqrt); var eps = new Vector<float>(AdamEps);
        for (int i = 0; i < len; i += vw)
        {
            var gi = Ld(ref g, i) * vs;
            var m = b1 * Ld(ref s1, i) + c1 * gi;
            var v = b2 * Ld(ref s2, i) + c2 * (gi * gi);
            St(m, ref s1, i); St(v, ref s2, i);
            St(Ld(ref w, i) - step * (m / (Vector.SquareRoot(v) / bc2 + eps)), ref w, i);
        }
    }

    /// <summary>Dense sweep, untouched row: gradient clip(λθ)·scale (zero without L2), at the step of <paramref name="f"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void UpdateUntouched(ref float w, ref float s1, ref float s2, float l2, float cv, float scale, int len, in StepFactors f)
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
                var step = new Vector<float>(f.AdamStep); var bc2 = new Vector<float>(f.AdamBc2); var eps = new Vector<float>(AdamEps);
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
                AdamRow(ref Ref(_kt), ref Ref(_kt1!), ref Ref(_kt2!), ref gk, _scaleK, nd, _adamStepMemory);
                AdamRow(ref Ref(_m), ref Ref(_m1!), ref Ref(_m2!), ref gmv, _scaleM, nd, _adamStepMemory);
                break;
            case OptimizerKind.Adagrad:
                UpdateRow(ref Ref(_kt), ref gk, ref Ref(_kt2!), ref gk, _scaleK, nd, memory: true);
                UpdateRow(ref Ref(_m), ref gmv, ref Ref(_m2!), ref gmv, _scaleM, nd, memory: true);
                break;
            default:
                UpdateRow(ref Ref(_kt), ref gk, ref gk, ref gk, _scaleK, nd, memory: true);
                UpdateRow(ref Ref(_m), ref gmv, ref gmv, ref gmv, _scaleM, nd, memory: true);
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
