using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Lrml.Data;
using Lrml.Models;
using Lrml.Util;
using static Lrml.Fast.FusedMath;

namespace Lrml.Fast;

/// <summary>
/// What one embedding model contributes to <see cref="EmbeddingEngine"/>: the widths of its user and item rows and of its
/// dense parameters, the forward and backward pass of one training example (a user, its positive and k negatives), and its
/// score. Everything else — gathering the rows a batch touches, summing duplicate rows, the optimiser, the unit-ball
/// projection, threads, state and full-ranking scoring — is the engine's.
/// </summary>
internal abstract class EmbeddingKernel
{
    /// <summary>The model's display name ("BPR-MF").</summary>
    public abstract string Name { get; }
    /// <summary>Floats per user row, per item row, and dense (non-row) parameters.</summary>
    public required int UserWidth { get; init; }
    public required int ItemWidth { get; init; }
    public int DenseWidth { get; init; }
    /// <summary>Stored rows are projected onto the unit ball after every update (CML).</summary>
    public bool ProjectRows { get; init; }
    public required OptimizerKind Optimizer { get; init; }
    public required float LearningRate { get; init; }
    /// <summary>The model's configuration record (for <see cref="EmbeddingEngine.Describe"/>).</summary>
    public required object Config { get; init; }

    /// <summary>The batch a step trains on: the trainer's, or (CML with WARP) the trainer's with negatives the model draws
    /// itself appended to each example's, drawn as the TorchSharp model draws them from <see cref="OwnRng"/>.</summary>
    public virtual TrainingBatch Augment(TrainingBatch batch) => batch;

    /// <summary>The random stream of <see cref="Augment"/> (null when the model draws nothing); saved after the parameters.</summary>
    public virtual Rng? OwnRng => null;

    /// <summary>Factor on every gradient of a batch of <paramref name="count"/> positives with k negatives (1 = summed loss).</summary>
    public virtual float Coefficient(int count, int k) => 1f;

    /// <summary>
    /// Forward and backward of one example: <paramref name="p"/> the user row, its 1 + k item rows (positive first) at the
    /// offsets <paramref name="rows"/> in <paramref name="q"/> (the item table itself: no copy of a row). Overwrites
    /// <paramref name="gp"/> and the item gradient rows of <paramref name="gq"/> (row j at j · <paramref name="stride"/>)
    /// with ∂loss/∂row · <paramref name="coef"/>, adds the dense gradient into <paramref name="gDense"/>,
    /// and returns the loss this example reports. <paramref name="live"/> (one flag per item row) arrives all true: a kernel
    /// may instead set live[j] = false for an item row whose gradient is exactly zero and leave that row unwritten (CML's
    /// inactive hinges, WARP's candidates); the engine then neither reads nor sums it.
    /// </summary>
    public abstract double Example(ReadOnlySpan<float> p, ReadOnlySpan<float> q, ReadOnlySpan<int> rows, int stride, int count, ReadOnlySpan<float> dense,
        float coef, Span<float> gp, Span<float> gq, Span<bool> live, Span<float> gDense);

    /// <summary>The score of one (user row, item row) pair, computed as the reference model does.</summary>
    public abstract float Score(ReadOnlySpan<float> p, ReadOnlySpan<float> q, ReadOnlySpan<float> dense);

    /// <summary>Full ranking as a matrix product, score(u, i) = a(u)·q_i + c(u) + e(i): writes a(u) (item width) and returns c(u).</summary>
    public abstract float ScoreUser(ReadOnlySpan<float> p, ReadOnlySpan<float> dense, Span<float> a);

    /// <summary>e(i) of <see cref="ScoreUser"/>.</summary>
    public virtual float ScoreItem(ReadOnlySpan<float> q) => 0f;

    /// <summary>softplus as torch computes it (threshold 20) and the logistic function.</summary>
    protected static double Softplus(float x) => x > 20f ? x : Math.Log(1.0 + Math.Exp(x));
    protected static float Sigmoid(float x) => (float)(1.0 / (1.0 + Math.Exp(-x)));
}

/// <summary>The constants of one optimiser step t: the learning rate and Adam's bias corrections (double, rounded to float
/// once, as the fused LRML engine), and the bounds <see cref="EmbeddingEngine.ZeroGradientAdam"/> derives from them (computed
/// once per step: a replay applies each step to many rows).</summary>
internal readonly record struct StepFactors(float LearningRate, float AdamStep, float AdamBc2, float LazyStep)
{
    public static StepFactors At(float lr, long t)
    {
        double bc1 = 1.0 - Math.Pow(LrmlFused.Beta1, t), bc2 = 1.0 - Math.Pow(LrmlFused.Beta2, t);
        return new(lr, (float)(lr / bc1), (float)Math.Sqrt(bc2), (float)(lr * Math.Sqrt(bc2) / bc1));
    }

    // (derived from AdamStep when constructed: a `with` changing AdamStep would keep them stale — build factors with At)

    /// <summary>K ≥ 1.0001·s/ε of <see cref="EmbeddingEngine.ZeroGradientAdam"/> (s = AdamStep).</summary>
    public float NoMoveK { get; } = (float)(AdamStep * (1.0001 / LrmlFused.AdamEps));

    /// <summary>max(K·2⁻¹⁰⁰, 2⁻⁶⁰), rounded up a hair: the least |w| a subnormal first moment cannot move.</summary>
    public float SubnormalNoMoveWeight { get; } =
        (float)Math.Max(AdamStep * (1.0001 / LrmlFused.AdamEps) * (7.888609052210118e-31 * (1 + 1e-6)), EmbeddingEngine.NoMoveWeight);   // 2⁻¹⁰⁰ · (1 + 10⁻⁶)
}

/// <summary>
/// One fast CPU engine for every embedding model (BPR-MF, CML, GMF; LRML has its own fused engine with the same design):
/// a model is an <see cref="EmbeddingKernel"/>. A step validates the batch, indexes the distinct rows it touches, runs
/// the kernel over fixed chunks of 64 examples in parallel (each example writes its own gradient rows, each chunk its
/// own dense gradient), sums every touched row over its occurrences in batch order and the chunks in index order, and
/// updates: <b>Adam</b> exactly as PyTorch's dense Adam (every row's moments decay and every row moves each step: small
/// tables are swept, and on large ones a row the step does not read replays the step when next read, see
/// <see cref="ReplayUnreadRows"/>), <b>LazyAdam</b> (SparseAdam formula, global t) on the touched rows and dense Adam on dense
/// parameters, <b>Sgd</b>/<b>Adagrad</b> on the touched rows (exact: zero-gradient rows do not change under them). With
/// <see cref="EmbeddingKernel.ProjectRows"/> every updated row is divided by max(‖x‖, 1). Results are bit-identical for
/// any thread count on one machine. Starts from the TorchSharp model's initial weights for a seed (parity-tested).
/// </summary>
internal sealed unsafe class EmbeddingEngine : ITrainableRecommender, IPhaseTimed
{
    private const float Beta1 = LrmlFused.Beta1, Beta2 = LrmlFused.Beta2, AdamEps = LrmlFused.AdamEps, AdagradEps = LrmlFused.AdagradEps;
    private const int Chunk = 64, RowBlock = 64, DenseBlock = 256, UserBlock = 16, Segment = 256;

    private readonly EmbeddingKernel _k;
    private readonly int _users, _items, _uw, _iw, _nd, _su, _si;
    private readonly float[] _p, _q, _dense, _zero;
    private readonly float[]? _p1, _p2, _q1, _q2, _d1, _d2;
    private readonly WorkerPool _pool;
    private readonly Work _work;
    private readonly object _gate = new();
    private long _step;
    private int _version;
    private bool _disposed;

    public EmbeddingEngine(EmbeddingKernel kernel, int numUsers, int numItems, float[] users, float[] items, float[]? dense, int threads)
    {
        _k = kernel;
        _users = numUsers; _items = numItems; _uw = kernel.UserWidth; _iw = kernel.ItemWidth; _nd = kernel.DenseWidth;
        if (numUsers < 1 || numItems < 1) throw new ArgumentException("A model needs at least one user and one item.");
        if (users.LongLength != (long)numUsers * _uw || items.LongLength != (long)numItems * _iw || (dense?.Length ?? 0) != _nd)
            throw new ArgumentException($"{kernel.Name}: initial weights do not match {numUsers}×{_uw} users, {numItems}×{_iw} items, {_nd} dense.");
        _su = Pad(_uw); _si = Pad(_iw);
        _p = Padded(users, numUsers, _uw, _su); _q = Padded(items, numItems, _iw, _si);
        _dense = new float[Pad(Math.Max(_nd, 1))];
        dense?.CopyTo(_dense, 0);
        _zero = new float[(kernel.Optimizer == OptimizerKind.Adam ? DenseBlock : 1) * Math.Max(_su, _si)];   // the sweep's runs of untouched rows read it
        if (kernel.Optimizer is OptimizerKind.Adam or OptimizerKind.LazyAdam)
        {
            _p1 = LargeArrays.Floats(_p.Length); _q1 = LargeArrays.Floats(_q.Length); _d1 = new float[_dense.Length];
        }
        if (kernel.Optimizer is OptimizerKind.Adam or OptimizerKind.LazyAdam or OptimizerKind.Adagrad)
        {
            _p2 = LargeArrays.Floats(_p.Length); _q2 = LargeArrays.Floats(_q.Length); _d2 = new float[_dense.Length];
        }
        if (kernel.ProjectRows)
        {
            for (int r = 0; r < _users; r++) ProjectRow(_p, r * _su, _uw);
            for (int r = 0; r < _items; r++) ProjectRow(_q, r * _si, _iw);
        }
        _pool = new WorkerPool(threads < 1 ? Environment.ProcessorCount : threads);
        _work = new Work(this);
        _userSlot = new int[_users]; Array.Fill(_userSlot, -1);
        _itemSlot = new int[_items]; Array.Fill(_itemSlot, -1);
        _userMark = new ulong[(_users >> 6) + 1]; _itemMark = new ulong[(_items >> 6) + 1];   // (no overflow near int.MaxValue rows)
        _scratch = new float[_pool.Threads][];
        _rowOffsets = new int[_pool.Threads][];
        ReplayUnreadRows = kernel.Optimizer == OptimizerKind.Adam && AdamTablesExceedReplaySize((long)numUsers * _su + (long)numItems * _si);
    }

    private static float[] Padded(float[] src, int rows, int w, int stride)
    {
        var dst = LargeArrays.Floats((long)rows * stride);
        for (int r = 0; r < rows; r++) src.AsSpan(r * w, w).CopyTo(dst.AsSpan(r * stride));
        return dst;
    }

    private static float[] Unpadded(float[] src, int rows, int w, int stride)
    {
        var dst = new float[(long)rows * w];
        for (int r = 0; r < rows; r++) src.AsSpan(r * stride, w).CopyTo(dst.AsSpan(r * w));
        return dst;
    }

    public string Name => _k.Name;
    public int NumUsers => _users;
    public int NumItems => _items;
    public int Threads => _pool.Threads;
    public long StepCount => _step;

    /// <summary>Copies of the parameters (users × UserWidth, items × ItemWidth, dense).</summary>
    public (float[] Users, float[] Items, float[] Dense) Export()
    {
        lock (_gate)
        {
            CatchUpAll();
            return (Unpadded(_p, _users, _uw, _su), Unpadded(_q, _items, _iw, _si), _dense[.._nd]);
        }
    }

    // ------------------------------------------------------------------ training

    private readonly int[] _userSlot, _itemSlot;
    private readonly ulong[] _userMark, _itemMark;   // Index's bitmaps of the rows seen (all zero between calls)
    private readonly float[][] _scratch;
    private readonly int[][] _rowOffsets;   // per worker: the offsets of one example's item rows in Q
    private TrainingBatch? _batch;
    private int _b, _t, _chunks, _nu, _ni, _capB = -1, _capT = -1;
    private float _coef;
    private bool _update;
    private float[] _gpEx = [], _gqEx = [], _gu = [], _gi = [], _gDenseC = [], _gDense = [];
    // swept exact Adam: where each slot's gradient row is, ≥ 0 an offset into _gpEx / _gqEx (a row read once: no copy), −1 its sum
    private int[] _gAtU = [], _gAtI = [];
    private bool _sweepReads;
    private bool[] _live = [];   // per item occurrence: the kernel wrote its gradient row (false: exactly zero, unwritten)
    private bool _allItemsTouched;   // row-sparse optimisers: every item row of the batch is updated, zero gradient or not
    private double[] _chunkLoss = [];
    private int[] _uniqU = [], _uniqI = [], _offU = [], _offI = [], _occU = [], _occI = [], _rowsI = [];
    private StepFactors _f;

    /// <summary>Tables (weights and both moments) above this many bytes replay instead of being swept; in the LRML engine's
    /// sweep, they move untouched rows with <see cref="ZeroGradientAdam"/>.</summary>
    internal const long ReplayMinBytes = 16L << 20;

    /// <summary>Whether exact Adam's tables of this many floats each (weights, first and second moments: 12 bytes a float) exceed
    /// <see cref="ReplayMinBytes"/>.</summary>
    internal static bool AdamTablesExceedReplaySize(long floats) => 12L * floats > ReplayMinBytes;

    /// <summary>
    /// Exact Adam on large tables: instead of sweeping P, Q and both moments through memory at every step (dense Adam moves
    /// every row, with a zero gradient the rows the step does not read), every row records the step its state is at, and a
    /// row that owes steps replays them (<see cref="Replay"/>: the zero-gradient step of the sweep and its projection, with
    /// each owed step's factors, so the same bits) just before a step reads it; all rows catch up before anything else
    /// reads the tables (scoring, export, state, parameter checks). The replay works on one row in cache, where the sweep
    /// streams tables larger than the caches from memory at every step; on tables that fit in cache the sweep is faster
    /// (measured on the ML-1M shape), so the engine replays when its tables exceed <see cref="ReplayMinBytes"/>
    /// (the ML-20M and Netflix shapes). Settable (tests): switching catches every row up first.
    /// </summary>
    internal bool ReplayUnreadRows
    {
        get => _atU is not null;
        set
        {
            lock (_gate)
            {
                if (value == (_atU is not null)) return;
                if (value && _k.Optimizer != OptimizerKind.Adam) throw new InvalidOperationException("Only exact Adam replays unread rows.");
                CatchUpAll();
                if (value) { _atU = new long[_users]; _atI = new long[_items]; Array.Fill(_atU, _step); Array.Fill(_atI, _step); _owedFrom = _step + 1; }
                else _atU = _atI = null;
            }
        }
    }

    /// <summary>Exact Adam: after this many steps since every row last caught up, every row does, so the factors kept stay
    /// bounded (settable for tests).</summary>
    internal int OwedStepLimit { get; set; } = 1 << 16;
    private long[]? _atU, _atI;                    // replaying exact Adam: the step each user / item row's state is at
    private StepFactors[] _owedF = new StepFactors[256];   // the factors of steps _owedFrom, _owedFrom + 1, …, _step
    private long _owedFrom = 1;
    private OwedRows? _owedRows;
    private OwedRows Owed => _owedRows ??= new OwedRows((user, r) =>
    {
        int w = user ? _su : _si;
        PrefetchRow(user ? _p : _q, user ? _p1 : _q1, user ? _p2 : _q2, (long)r * w, w);
    }, Replay);

    /// <summary>One optimiser step; returns the batch loss as the TorchSharp model reports it.</summary>
    public double TrainStep(TrainingBatch batch)
    {
        lock (_gate)
        {
            var clock = _pool.Clock;
            clock?.BeginStep();
            try
            {
                double loss = Forward(batch, update: true);
                if (_k.Optimizer == OptimizerKind.Adam && _atU is null) _work.Run(WorkPhase.Sweep, DenseBlocks(_users) + DenseBlocks(_items));
                UpdateDense();
                if (_nd > 0) clock?.Lap("dense tower update");
                return loss;
            }
            finally { Release(); _version++; clock?.EndStep(); }
        }
    }

    /// <inheritdoc/>
    PhaseClock? IPhaseTimed.PhaseClock { get => _pool.Clock; set { lock (_gate) _pool.Clock = value; } }   // never in the middle of a step

    /// <inheritdoc/>
    long IPhaseTimed.SweptAdamFloats => _k.Optimizer == OptimizerKind.Adam && _atU is null ? (long)_users * _su + (long)_items * _si : 0;

    /// <summary>The loss and dense gradients (users × UserWidth, items × ItemWidth, dense) a step would apply, without updating.</summary>
    internal (double Loss, float[] Users, float[] Items, float[] Dense) ComputeGradient(TrainingBatch batch)
    {
        lock (_gate)
        {
            try
            {
                double loss = Forward(batch, update: false);
                var gu = new float[(long)_users * _uw]; var gi = new float[(long)_items * _iw];
                for (int s = 0; s < _nu; s++) _gu.AsSpan(s * _su, _uw).CopyTo(gu.AsSpan(_uniqU[s] * _uw));
                for (int s = 0; s < _ni; s++) _gi.AsSpan(s * _si, _iw).CopyTo(gi.AsSpan(_uniqI[s] * _iw));
                return (loss, gu, gi, _gDense[.._nd]);
            }
            finally { Release(); }
        }
    }

    private double Forward(TrainingBatch batch, bool update)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        TorchSupport.CheckBatch(batch, _users, _items);   // the same checks and messages as the TorchSharp models
        var given = batch;
        batch = _k.Augment(batch);
        if (!ReferenceEquals(batch, given)) _pool.Clock?.Lap("own negative draws (WARP)");
        int b = batch.Count, k = batch.NegativesPerPositive;
        EnsureCapacity(b, k + 1);
        _batch = batch; _b = b; _t = k + 1; _coef = _k.Coefficient(b, k);
        _chunks = (b + Chunk - 1) / Chunk;
        // row-sparse optimisers update each row as soon as its gradient is summed, and so does exact Adam when it replays
        // (the rows outside the step owe it); a swept exact Adam updates every row afterwards
        _update = update && (_k.Optimizer != OptimizerKind.Adam || _atU is not null);
        _sweepReads = update && !_update;
        if (update) AdvanceStep();
        // The row-sparse optimisers update (and project) every row of the batch, so their items are indexed with all
        // occurrences. Under exact Adam a row whose gradient is zero moves exactly as a row outside the batch (the sweep
        // moves both alike), so its items are indexed after the examples, over the rows the kernel wrote.
        _allItemsTouched = _k.Optimizer != OptimizerKind.Adam;
        ItemRows();
        if (_atU is not null) CatchUpBatch(update ? _step - 1 : _step);
        (_k as ChunkKernel)?.BeginStep(_dense.AsSpan(0, _nd));
        // the examples read rows only and the indexes write none, so the batch's distinct users (and, when every item row
        // of the batch is updated, its items) are indexed as extra items of the examples' phase, handed out first; under
        // exact Adam the items are indexed afterwards, over the rows the kernel wrote (the two lists share no array)
        _work.Run(WorkPhase.Examples, IndexEarly + _chunks);
        if (!_allItemsTouched) _work.Run(WorkPhase.Index, 1);
        // (summing a swept exact Adam's rows inside the sweep instead, one phase fewer, measured slower: GMF's step 434 →
        // 505 µs on the ML-1M shape, its random reads of the gradient rows breaking the sweep's streaming)
        _work.Run(WorkPhase.Rows, (_nu + RowBlock - 1) / RowBlock + (_ni + RowBlock - 1) / RowBlock);
        double loss = 0;
        for (int c = 0; c < _chunks; c++) loss += _chunkLoss[c];
        if (_nd > 0)
        {
            _gDenseC.AsSpan(0, _nd).CopyTo(_gDense);
            for (int c = 1; c < _chunks; c++) TensorPrimitives.Add(_gDense.AsSpan(0, _nd), _gDenseC.AsSpan(c * _dense.Length, _nd), _gDense.AsSpan(0, _nd));
        }
        return loss;
    }

    private void EnsureCapacity(int b, int t)
    {
        if (b <= _capB && t == _capT) return;
        int cap = Math.Max(b, _capB);
        long rows = (long)cap * t;
        if (rows * _si > Array.MaxLength) throw new ArgumentException("Batch × (negatives + 1) × d is too large for one step.");
        _gpEx = new float[cap * _su]; _gqEx = new float[rows * _si]; _gu = new float[cap * _su]; _gi = new float[rows * _si];
        _gAtU = new int[cap]; _gAtI = new int[rows];
        int chunks = (cap + Chunk - 1) / Chunk;
        _gDenseC = new float[chunks * _dense.Length]; _gDense = new float[_dense.Length]; _chunkLoss = new double[chunks];
        _uniqU = new int[cap]; _offU = new int[cap + 1]; _occU = new int[cap];
        _uniqI = new int[rows]; _offI = new int[rows + 1]; _occI = new int[rows]; _rowsI = new int[rows];
        _live = new bool[rows]; _pick = new int[rows];
        for (int w = 0; w < _scratch.Length; w++)
        {
            _scratch[w] = new float[_k is ChunkKernel ? Chunk * (_su + t * _si) : 0];
            _rowOffsets[w] = new int[t];
        }
        (_k as ChunkKernel)?.Prepare(_scratch.Length, Chunk, t);
        _capB = cap; _capT = t;
    }

    /// <summary>The item of every occurrence o = x·(k+1) + j: the positive, then the negatives.</summary>
    private void ItemRows()
    {
        var batch = _batch!;
        int b = _b, t = _t, k = t - 1;
        for (int x = 0; x < b; x++)
        {
            _rowsI[x * t] = batch.Positives[x];
            for (int j = 1; j < t; j++) _rowsI[x * t + j] = batch.Negatives[x * k + j - 1];
        }
    }

    /// <summary>Distinct users (item 0) or items (item 1) of the batch with their occurrences in batch order; under exact
    /// Adam the items are those among the occurrences whose gradient row the kernel wrote.</summary>
    private void RunIndex(int item)
    {
        if (item == 0) { _nu = Index(_b, _batch!.Users, null, _userSlot, _userMark, _uniqU, _offU, _occU); return; }
        if (_allItemsTouched) { _ni = Index(_b * _t, _rowsI, null, _itemSlot, _itemMark, _uniqI, _offI, _occI); return; }
        int n = 0, rows = _b * _t;
        for (int o = 0; o < rows; o++)
            if (_live[o]) _pick[n++] = o;
        _ni = Index(n, _rowsI, _pick, _itemSlot, _itemMark, _uniqI, _offI, _occI);
    }

    private int[] _pick = [];

    /// <summary>Slots of the distinct rows of rows[o] for the occurrences o = pick[x] (or x), x in [0, n), in increasing row
    /// order; slot s occurs at occ[off[s]..off[s+1]), in increasing o. Rows in table order make the row phase's reads and
    /// writes of the table and its moments ascend through memory, which the hardware prefetcher follows where a batch
    /// touches much of a table (CML+WARP's 21 items an example on the ML-20M shape). Each slot is summed and updated on
    /// its own, so the order changes no bits. <paramref name="mark"/> is all zero before and after.</summary>
    private static int Index(int n, int[] rows, int[]? pick, int[] slotOf, ulong[] mark, int[] uniq, int[] off, int[] occ)
    {
        int lo = int.MaxValue, hi = -1;
        for (int x = 0; x < n; x++)   // count: slotOf[r] = −1 − (occurrences so far); −1 is "not seen"
        {
            int r = rows[pick is null ? x : pick[x]], c = slotOf[r];
            if (c == -1) { mark[r >> 6] |= 1UL << r; lo = Math.Min(lo, r >> 6); hi = Math.Max(hi, r >> 6); }
            slotOf[r] = c - 1;
        }
        int count = 0, end = 0;
        for (int wd = lo; wd <= hi; wd++)   // the rows seen, ascending: slot, and where its occurrences end
        {
            ulong bits = mark[wd];
            if (bits == 0) continue;
            mark[wd] = 0;
            for (; bits != 0; bits &= bits - 1)
            {
                int r = (wd << 6) + BitOperations.TrailingZeroCount(bits);
                end += -1 - slotOf[r];
                uniq[count] = r; off[count + 1] = end; slotOf[r] = count++;
            }
        }
        for (int x = n - 1; x >= 0; x--)   // fills backwards: off[s + 1] ends at slot s's start
        {
            int o = pick is null ? x : pick[x];
            occ[--off[slotOf[rows[o]] + 1]] = o;
        }
        for (int s = 0; s < count; s++) off[s] = off[s + 1];
        off[count] = n;
        return count;
    }

    private void Release()
    {
        for (int s = 0; s < _nu; s++) _userSlot[_uniqU[s]] = -1;
        for (int s = 0; s < _ni; s++) _itemSlot[_uniqI[s]] = -1;
        _nu = _ni = 0;
        _batch = null;
    }

    private void RunChunk(int chunk, int worker)
    {
        var batch = _batch!;
        int t = _t, si = _si, e0 = chunk * Chunk, e1 = Math.Min(_b, e0 + Chunk);
        var rows = _rowOffsets[worker];
        var gDense = _gDenseC.AsSpan(chunk * _dense.Length, _nd);
        gDense.Clear();
        ReadOnlySpan<float> dense = _dense.AsSpan(0, _nd);
        double loss = 0;
        if (_k is ChunkKernel ck)   // the chunk's rows side by side: users, then items (positive first per example)
        {
            var q = _scratch[worker];
            int n = e1 - e0, su = _su;
            _live.AsSpan(e0 * t, n * t).Fill(true);
            for (int x = 0; x < n; x++)
            {
                _p.AsSpan(batch.Users[e0 + x] * su, _uw).CopyTo(q.AsSpan(x * su));
                for (int j = 0; j < t; j++) _q.AsSpan(_rowsI[(e0 + x) * t + j] * si, _iw).CopyTo(q.AsSpan(Chunk * su + (x * t + j) * si));
            }
            _chunkLoss[chunk] = ck.Chunk(worker, q.AsSpan(0, n * su), q.AsSpan(Chunk * su, n * t * si), su, si, n, t, _coef,
                _gpEx.AsSpan(e0 * su, n * su), _gqEx.AsSpan(e0 * t * si, n * t * si), gDense);
            return;
        }
        for (int x = e0; x < e1; x++)
        {
            if (x + 2 < e1)   // rows of a later example are random reads: start them early
            {
                CacheHint.PrefetchRange(_p, (long)batch.Users[x + 2] * _su, _uw);
                for (int j = 0; j < t; j++) CacheHint.PrefetchRange(_q, (long)_rowsI[(x + 2) * t + j] * si, _iw);
            }
            for (int j = 0; j < t; j++) rows[j] = _rowsI[x * t + j] * si;   // the kernel reads the rows in place (copying them cost ≈ 7 % of a BPR-MF step)
            var live = _live.AsSpan(x * t, t);
            live.Fill(true);
            loss += _k.Example(_p.AsSpan(batch.Users[x] * _su, _uw), _q, rows, si, t, dense, _coef,
                _gpEx.AsSpan(x * _su, _uw), _gqEx.AsSpan(x * t * si, t * si), live, gDense);
        }
        _chunkLoss[chunk] = loss;
    }

    /// <summary>Sums a block of distinct rows over their occurrences; row-sparse optimisers update them right here.</summary>
    private void RunRows(int item)
    {
        int blocksU = (_nu + RowBlock - 1) / RowBlock;
        bool user = item < blocksU;
        int s0 = (user ? item : item - blocksU) * RowBlock, s1 = Math.Min(user ? _nu : _ni, s0 + RowBlock), w = user ? _su : _si;
        float[] ex = user ? _gpEx : _gqEx, sum = user ? _gu : _gi, table = user ? _p : _q;
        int[] off = user ? _offU : _offI, occ = user ? _occU : _occI, uniq = user ? _uniqU : _uniqI;
        float[]? m1 = user ? _p1 : _q1, m2 = user ? _p2 : _q2;
        bool[]? live = user || !_allItemsTouched ? null : _live;   // else every indexed occurrence was written
        int[]? at = _sweepReads ? (user ? _gAtU : _gAtI) : null;
        for (int s = s0; s < s1; s++)
        {
            if (at is not null)   // the sweep reads a row read once from its one gradient row, the others from their sums
            {
                if (off[s + 1] - off[s] == 1) { at[s] = occ[off[s]] * w; continue; }
                at[s] = -1;
            }
            if (_update && s + 2 < s1) PrefetchRow(table, m1, m2, (long)uniq[s + 2] * w, w);
            ref float g = ref At(sum, (nint)s * w);
            // a row read once and updated here: its one written gradient row is the sum (the update only reads it)
            if (_update && off[s + 1] - off[s] == 1 && (live is null || live[occ[off[s]]])) g = ref At(ex, (nint)occ[off[s]] * w);
            else if (live is null) Sum(ex, occ, off[s], off[s + 1], ref g, w);
            else
            {
                int first = off[s];   // the first written occurrence, if any
                while (first < off[s + 1] && !live[occ[first]]) first++;
                // LazyAdam moves a row of the batch without a written gradient row with a zero gradient: the shared zeros
                // (only read) instead of a cleared sum, which on CML+WARP's ML-20M shape was ≈ 15 k rows cleared per step
                if (first == off[s + 1] && _update && _k.Optimizer == OptimizerKind.LazyAdam) g = ref Ref(_zero);
                else SumLive(ex, occ, first, off[s + 1], live, ref g, w);
            }
            if (_update)
            {
                UpdateRow(table, m1, m2, (nint)uniq[s] * w, ref g, w, user ? _uw : _iw);
                if (_atU is not null) (user ? _atU : _atI!)[uniq[s]] = _step;
            }
        }
    }

    /// <summary>The sum of the rows of occurrences occ[from..to) (at least one), in order.</summary>
    private static void Sum(float[] ex, int[] occ, int from, int to, ref float g, int w)
    {
        Copy(ref At(ex, (nint)occ[from] * w), ref g, w);
        for (int o = from + 1; o < to; o++) Add(ref At(ex, (nint)occ[o] * w), ref g, w);
    }

    /// <summary>The sum of the written rows among occurrences occ[from..to), occ[from] being the first written one (from = to
    /// when none was written: zero), in order. Equal to summing the unwritten rows as +0 too, but for the sign of a zero: a
    /// −0 stays −0 instead of turning +0. Adam's and LazyAdam's moments start at +0 and can never become −0, so their
    /// steps do not see it; SGD and Adagrad would only differ on a weight that is exactly −0.</summary>
    private static void SumLive(float[] ex, int[] occ, int from, int to, bool[] live, ref float g, int w)
    {
        if (from == to) { MemoryMarshal.CreateSpan(ref g, w).Clear(); return; }
        Copy(ref At(ex, (nint)occ[from] * w), ref g, w);
        for (int o = from + 1; o < to; o++)
            if (live[occ[o]]) Add(ref At(ex, (nint)occ[o] * w), ref g, w);
    }

    private static int DenseBlocks(int rows) => (rows + DenseBlock - 1) / DenseBlock;

    /// <summary>Block <paramref name="item"/> of a pass over every row: P's blocks, then Q's.</summary>
    private (bool User, int R0, int R1) DenseRange(int item)
    {
        int blocksU = DenseBlocks(_users);
        bool user = item < blocksU;
        int r0 = (user ? item : item - blocksU) * DenseBlock;
        return (user, r0, Math.Min(user ? _users : _items, r0 + DenseBlock));
    }

    /// <summary>Starts the reads of a row and its moments (random rows: issued a few rows ahead).</summary>
    internal static void PrefetchRow(float[] table, float[]? m1, float[]? m2, long o, int w)
    {
        CacheHint.PrefetchRange(table, o, w);
        if (m1 is not null) CacheHint.PrefetchRange(m1, o, w);
        if (m2 is not null) CacheHint.PrefetchRange(m2, o, w);
    }

    /// <summary>Swept exact Adam: one block of rows of P or Q moves with its summed gradient, or with zero when untouched.</summary>
    private void RunSweep(int item)
    {
        var (user, r0, r1) = DenseRange(item);
        int w = user ? _su : _si, width = user ? _uw : _iw;
        int[] slot = user ? _userSlot : _itemSlot;
        float[] sum = user ? _gu : _gi, ex = user ? _gpEx : _gqEx, table = user ? _p : _q, s1 = (user ? _p1 : _q1)!, s2 = (user ? _p2 : _q2)!;
        int[] at = user ? _gAtU : _gAtI;
        if (Vector512.IsHardwareAccelerated && !_k.ProjectRows && w % 8 == 0)
        {
            SweepRows(r0, r1, w, slot, at, ex, sum, table, s1, s2);
            return;
        }
        for (int r = r0; r < r1;)
        {
            if (slot[r] is int sl and >= 0)
            {
                UpdateRow(table, s1, s2, (nint)r * w, ref at[sl] >= 0 ? ref At(ex, at[sl]) : ref At(sum, (nint)sl * w), w, width);
                r++; continue;
            }
            // a run of rows without a gradient in one call: the update is element-wise (the same operations on every float
            // whichever call and lane it falls in), so the bits are those of a call per row, without the per-call overhead,
            // which cost the sweep about as much as its arithmetic on 64-float rows
            int e = r + 1;
            while (e < r1 && slot[e] < 0) e++;
            nint o = (nint)r * w;
            Step(OptimizerKind.Adam, _f, ref At(table, o), ref At(s1, o), ref At(s2, o), ref Ref(_zero), (e - r) * w);
            if (_k.ProjectRows) for (int x = r; x < e; x++) ProjectRow(table, (nint)x * w, width);
            r = e;
        }
    }

    /// <summary>
    /// The sweep over rows [r0, r1) in one loop, each row with its gradient (its one gradient row, its sum, or zeros): the
    /// operations of <see cref="Step"/>'s dense Adam float for float (512-bit lanes, a last 8 floats in 256-bit ones: the
    /// update is element-wise), with the constants built once per block instead of per row or run of untouched rows. On the
    /// ML-1M shape a step touches a quarter of the rows, so the runs between them are short and the per-call setup was a
    /// good part of the sweep.
    /// </summary>
    private void SweepRows(int r0, int r1, int w, int[] slot, int[] at, float[] ex, float[] sum, float[] table, float[] s1, float[] s2)
    {
        var b1 = Vector512.Create(Beta1); var c1 = Vector512.Create(1f - Beta1);
        var b2 = Vector512.Create(Beta2); var c2 = Vector512.Create(1f - Beta2);
        var e = Vector512.Create(AdamEps); var step = Vector512.Create(_f.AdamStep); var bc2 = Vector512.Create(_f.AdamBc2);
        int whole = w & ~15;
        bool half = whole != w;   // w % 8 == 0: at most 8 floats left
        ref float zero = ref Ref(_zero);
        for (int r = r0; r < r1; r++)
        {
            int sl = slot[r];
            ref float g = ref sl < 0 ? ref zero : ref at[sl] >= 0 ? ref At(ex, at[sl]) : ref At(sum, (nint)sl * w);
            nint o = (nint)r * w;
            ref float x = ref At(table, o); ref float m1 = ref At(s1, o); ref float m2 = ref At(s2, o);
            for (int i = 0; i < whole; i += 16)
            {
                var gi = Vector512.LoadUnsafe(ref g, (nuint)i);
                var m = b1 * Vector512.LoadUnsafe(ref m1, (nuint)i) + c1 * gi;
                var v = b2 * Vector512.LoadUnsafe(ref m2, (nuint)i) + c2 * (gi * gi);
                m.StoreUnsafe(ref m1, (nuint)i); v.StoreUnsafe(ref m2, (nuint)i);
                (Vector512.LoadUnsafe(ref x, (nuint)i) - step * (m / (Vector512.Sqrt(v) / bc2 + e))).StoreUnsafe(ref x, (nuint)i);
            }
            if (half)
            {
                var gi = Vector256.LoadUnsafe(ref g, (nuint)whole);
                var m = b1.GetLower() * Vector256.LoadUnsafe(ref m1, (nuint)whole) + c1.GetLower() * gi;
                var v = b2.GetLower() * Vector256.LoadUnsafe(ref m2, (nuint)whole) + c2.GetLower() * (gi * gi);
                m.StoreUnsafe(ref m1, (nuint)whole); v.StoreUnsafe(ref m2, (nuint)whole);
                (Vector256.LoadUnsafe(ref x, (nuint)whole) - step.GetLower() * (m / (Vector256.Sqrt(v) / bc2.GetLower() + e.GetLower()))).StoreUnsafe(ref x, (nuint)whole);
            }
        }
    }

    /// <summary>Replaying exact Adam: lists the batch's rows (users, then items) whose state is behind <paramref name="target"/> and
    /// replays their owed steps in parallel, so that the examples read every row as the sweep would have left it.</summary>
    private void CatchUpBatch(long target)
    {
        var batch = _batch!;
        var owed = Owed;
        owed.Begin(target, _b * (_t + 1));
        for (int x = 0; x < _b; x++) owed.Owe(batch.Users[x], _atU!);
        owed.EndUsers();
        for (int o = 0; o < _b * _t; o++) owed.Owe(_rowsI[o], _atI!);
        if (owed.Blocks > 0) _work.Run(WorkPhase.CatchUp, owed.Blocks);
    }

    /// <summary>Exact Adam: every row catches up to the current step (before anything but a training step reads the tables).</summary>
    private void CatchUpAll()
    {
        if (_atU is null || _owedFrom == _step + 1) return;   // no step since every row last caught up
        ObjectDisposedException.ThrowIf(_disposed, this);
        Owed.Begin(_step, 0);
        _work.Run(WorkPhase.CatchUpAll, DenseBlocks(_users) + DenseBlocks(_items));
        _owedFrom = _step + 1;
    }

    private void RunCatchUpAll(int item)
    {
        var (user, r0, r1) = DenseRange(item);
        Owed.CatchUpRange(user, r0, r1, user ? _atU! : _atI!);
    }

    /// <summary>Steps from + 1 … to of one row that no step read: dense Adam's update with a zero gradient (and the
    /// projection), call for call as a sweep of the whole table makes them, so the row ends with the same bits.</summary>
    private void Replay(bool user, int r, long from, long to)
    {
        float[] table = user ? _p : _q;
        int w = user ? _su : _si;
        nint o = (nint)r * w;
        ref float m1 = ref At(user ? _p1! : _q1!, o), m2 = ref At(user ? _p2! : _q2!, o);
        if (!_k.ProjectRows)   // (the projection needs the whole row after each step)
        {
            ZeroGradientAdamSteps(_owedF.AsSpan((int)(from + 1 - _owedFrom), (int)(to - from)), ref At(table, o), ref m1, ref m2, w);
            return;
        }
        for (long s = from + 1; s <= to; s++)
        {
            ZeroGradientAdam(_owedF[s - _owedFrom], ref At(table, o), ref m1, ref m2, w);
            ProjectRow(table, o, user ? _uw : _iw);
        }
    }

    private void UpdateDense()
    {
        if (_nd == 0) return;
        var opt = _k.Optimizer == OptimizerKind.LazyAdam ? OptimizerKind.Adam : _k.Optimizer;   // LazyAdam: dense Adam on dense tensors
        Step(opt, _f, ref Ref(_dense), ref Ref(_d1 ?? _zero), ref Ref(_d2 ?? _zero), ref Ref(_gDense), _dense.Length);
    }

    /// <summary>t ← t + 1 and Adam's bias corrections at t.</summary>
    private void AdvanceStep()
    {
        if (_atU is not null && _step + 1 - _owedFrom >= OwedStepLimit) CatchUpAll();
        _f = StepFactors.At(_k.LearningRate, ++_step);
        if (_atU is null) return;
        long i = _step - _owedFrom;
        if (i >= _owedF.Length) Array.Resize(ref _owedF, (int)Math.Max(i + 1, Math.Min(2L * _owedF.Length, OwedStepLimit)));
        _owedF[i] = _f;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void UpdateRow(float[] table, float[]? s1, float[]? s2, nint o, ref float g, int w, int width)
    {
        Step(_k.Optimizer, _f, ref At(table, o), ref s1 is null ? ref g : ref At(s1, o), ref s2 is null ? ref g : ref At(s2, o), ref g, w);
        if (_k.ProjectRows) ProjectRow(table, o, width);
    }

    /// <summary>One optimiser update of <paramref name="len"/> floats: PyTorch's Adam, SGD, Adagrad (accumulator 0, ε 1e-10) or SparseAdam.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Step(OptimizerKind kind, in StepFactors f, ref float w, ref float m1, ref float m2, ref float g, int len)
    {
        int vw = Vector<float>.Count;
        var lr = new Vector<float>(f.LearningRate);
        int whole = len - len % vw;   // whole vectors, then (an unpadded row) the same arithmetic per float
        if (kind == OptimizerKind.Sgd)
        {
            for (int i = 0; i < whole; i += vw) St(Ld(ref w, i) - lr * Ld(ref g, i), ref w, i);
            for (int i = whole; i < len; i++) At(ref w, i) -= f.LearningRate * At(ref g, i);
            return;
        }
        if (kind == OptimizerKind.Adagrad)
        {
            var eps = new Vector<float>(AdagradEps);
            for (int i = 0; i < whole; i += vw)
            {
                var gi = Ld(ref g, i);
                var acc = Fma(gi, gi, Ld(ref m2, i));
                St(acc, ref m2, i);
                St(Ld(ref w, i) - lr * gi / (Vector.SquareRoot(acc) + eps), ref w, i);
            }
            for (int i = whole; i < len; i++)
            {
                float gi = At(ref g, i), acc = MathF.FusedMultiplyAdd(gi, gi, At(ref m2, i));
                At(ref m2, i) = acc;
                At(ref w, i) -= f.LearningRate * gi / (MathF.Sqrt(acc) + AdagradEps);
            }
            return;
        }
        var b1 = new Vector<float>(Beta1); var c1 = new Vector<float>(1f - Beta1);
        var b2 = new Vector<float>(Beta2); var c2 = new Vector<float>(1f - Beta2);
        var e = new Vector<float>(AdamEps);
        bool dense = kind == OptimizerKind.Adam;
        var step = new Vector<float>(dense ? f.AdamStep : f.LazyStep);
        var bc2 = new Vector<float>(dense ? f.AdamBc2 : 1f);   // SparseAdam folds √(1−β₂ᵗ) into its step instead
        int i0 = 0;
        if (Wide512)
        {
            // the update is element-wise (the same operations on each float, no reduction), so 512-bit lanes give the same
            // bits with half the instructions
            var b1x = Vector512.Create(Beta1); var c1x = Vector512.Create(1f - Beta1);
            var b2x = Vector512.Create(Beta2); var c2x = Vector512.Create(1f - Beta2);
            var ex = Vector512.Create(AdamEps); var stepx = Vector512.Create(dense ? f.AdamStep : f.LazyStep); var bc2x = Vector512.Create(dense ? f.AdamBc2 : 1f);
            for (; i0 + 16 <= whole; i0 += 16)
            {
                var gi = Vector512.LoadUnsafe(ref g, (nuint)i0);
                var m = b1x * Vector512.LoadUnsafe(ref m1, (nuint)i0) + c1x * gi;
                var v = b2x * Vector512.LoadUnsafe(ref m2, (nuint)i0) + c2x * (gi * gi);
                m.StoreUnsafe(ref m1, (nuint)i0); v.StoreUnsafe(ref m2, (nuint)i0);
                (Vector512.LoadUnsafe(ref w, (nuint)i0) - stepx * (m / (dense ? Vector512.Sqrt(v) / bc2x + ex : Vector512.Sqrt(v) + ex))).StoreUnsafe(ref w, (nuint)i0);
            }
        }
        for (int i = i0; i < whole; i += vw)
        {
            var gi = Ld(ref g, i);
            var m = b1 * Ld(ref m1, i) + c1 * gi;
            var v = b2 * Ld(ref m2, i) + c2 * (gi * gi);
            St(m, ref m1, i); St(v, ref m2, i);
            St(Ld(ref w, i) - step * (m / (dense ? Vector.SquareRoot(v) / bc2 + e : Vector.SquareRoot(v) + e)), ref w, i);
        }
        float s1 = dense ? f.AdamStep : f.LazyStep, s2 = dense ? f.AdamBc2 : 1f;
        for (int i = whole; i < len; i++)
        {
            float gi = At(ref g, i), m = Beta1 * At(ref m1, i) + (1f - Beta1) * gi, v = Beta2 * At(ref m2, i) + (1f - Beta2) * (gi * gi);
            At(ref m1, i) = m; At(ref m2, i) = v;
            At(ref w, i) -= s1 * (m / (dense ? MathF.Sqrt(v) / s2 + AdamEps : MathF.Sqrt(v) + AdamEps));
        }
    }

    internal const float NoMoveWeight = 8.6736174e-19f;   // 2⁻⁶⁰: below it ZeroGradientAdam takes the full update

    /// <summary>
    /// One step of dense Adam with a zero gradient on <paramref name="len"/> floats: the bits of
    /// <c>Step(Adam, f, w, m1, m2, zeros, len)</c>, with the division-free shortcut wherever it provably gives them. With
    /// g = +0 the step is m ← β₁m + (1−β₁)·0, v ← β₂v + (1−β₂)·0·0, w ← w − s·(m / (√v / c + ε)), s = f.AdamStep. Per vector:
    /// <list type="bullet">
    /// <item>Every m is +0 or a subnormal of at most 4 units (±k·2⁻¹⁴⁹, k ≤ 4; −0 excluded, β₁·(−0) + 0 is +0): β₁m rounds
    /// back to m (k·0.9 → k for k ≤ 4) and m stays. Where m ≠ 0 the weight has |w| ≥ 2⁻⁶⁰ (NaN fails the test): the
    /// update |s·m/den| &lt; s·2⁻¹⁴⁷/ε &lt; 2⁻⁸⁶ for s &lt; 2²⁰ is below half the spacing of floats at w, so w stays. Only v is
    /// written. Rows no step reads for a thousand steps end here: their moments decay to these fixed points and stay,
    /// and each such float would otherwise cost the processor's slow subnormal path on every step.</item>
    /// <item>Every m is ±0 or subnormal (the ≈ 140 steps a decaying moment takes from 2⁻¹²⁶ down to the fixed points): β₁m
    /// is computed on the integers, m = ±k·2⁻¹⁴⁹ → ±round(k·0.9f)·2⁻¹⁴⁹ with k·0.9f = k·15099494/2²⁴ rounded to nearest,
    /// ties to even — the product the processor rounds, without its microcode path for subnormal operands (tens of times
    /// slower); ±0 gives +0 (β₁·(±0) + (+0)). Every v must be +0, normal or +∞ (not subnormal: β₂v is then computed as in
    /// Step, on the fast path). Where m ≠ 0, |w| ≥ max(2⁻⁶⁰, K·2⁻¹⁰⁰) and finite: the update |s ⊗ (m′ ⊘ den)| &lt; K·2⁻¹²⁶ ≤
    /// 2⁻²⁶|w| (as below, with |m′| ≤ |m| &lt; 2⁻¹²⁶) leaves w; where m = ±0, m′ = +0 leaves any w but a NaN.</item>
    /// <item>No m is subnormal: m and v are updated as in Step; where every lane has |m′|·K &lt; |w|·2⁻²⁶ (2⁻⁶⁰ ≤ |w| &lt; ∞,
    /// so the right side is exact and finite) with K ≥ 1.0001·s/ε and |m′| &lt; 2⁹⁶ (so m′ ⊘ den ≤ 2⁹⁶/ε cannot overflow), the
    /// update |s ⊗ (m′ ⊘ den)| ≤ s·|m′|/ε·(1 + 2⁻²⁴)² (den ≥ ε: every operation rounds monotonically) is below 2⁻²⁶|w|,
    /// under half the spacing of floats at w, and w stays.</item>
    /// <item>All need every v′ in [+0, +∞]: a NaN or negative v′ makes den NaN and the full update NaN, even where m = 0
    /// (+∞ is fine: m / ∞ = 0).</item>
    /// <item>Otherwise the full update, operation for operation as Step's.</item>
    /// </list>
    /// A row's last floats that fill no whole vector go through the same code in a padded vector (padding lanes w = 1,
    /// m = v = 0 take every shortcut), so no float of a row is left to the slow path. What it saves is the square root and
    /// the two divisions per float, which bound the replay's speed, and the subnormal path, on rows idle for a few hundred
    /// steps (the many rarely read users of a large dataset). Tested against Step bit for bit over the cases.
    /// </summary>
    /// <returns>Whether it may have changed a weight (false: only moments were written).</returns>
    internal static bool ZeroGradientAdam(in StepFactors f, ref float w, ref float m1, ref float m2, int len)
    {
        if (!Vector512.IsHardwareAccelerated)   // (512-bit lanes: the update is element-wise, any width gives the same bits)
        {
            Span<float> zeros = stackalloc float[len];
            zeros.Clear();
            Step(OptimizerKind.Adam, f, ref w, ref m1, ref m2, ref MemoryMarshal.GetReference(zeros), len);
            return true;
        }
        var c = new ZeroGradientConstants(f);
        int whole = len - len % 16, stored = 0;
        for (int i = 0; i < whole; i += 16)
        {
            var x = Vector512.LoadUnsafe(ref w, (nuint)i); var m = Vector512.LoadUnsafe(ref m1, (nuint)i); var v = Vector512.LoadUnsafe(ref m2, (nuint)i);
            int store = ZeroGradientAdam16(c, ref x, ref m, ref v);
            if ((store & StoreW) != 0) x.StoreUnsafe(ref w, (nuint)i);
            if ((store & StoreM) != 0) m.StoreUnsafe(ref m1, (nuint)i);
            v.StoreUnsafe(ref m2, (nuint)i);
            stored |= store;
        }
        int rest = len - whole;
        if (rest == 0) return (stored & StoreW) != 0;
        if (rest == 8)   // (LRML's rows of d = 100 in 104 floats) the last 8 floats, padded in registers
        {
            var x = Vector512.Create(Vector256.LoadUnsafe(ref w, (nuint)whole), Vector256.Create(1f));
            var m = Vector512.Create(Vector256.LoadUnsafe(ref m1, (nuint)whole), Vector256<float>.Zero);
            var v = Vector512.Create(Vector256.LoadUnsafe(ref m2, (nuint)whole), Vector256<float>.Zero);
            int store = ZeroGradientAdam16(c, ref x, ref m, ref v);
            x.GetLower().StoreUnsafe(ref w, (nuint)whole); m.GetLower().StoreUnsafe(ref m1, (nuint)whole); v.GetLower().StoreUnsafe(ref m2, (nuint)whole);
            return ((stored | store) & StoreW) != 0;
        }
        Span<float> pad = stackalloc float[48];
        pad[..16].Fill(1f); pad[16..].Clear();
        MemoryMarshal.CreateReadOnlySpan(ref At(ref w, whole), rest).CopyTo(pad);
        MemoryMarshal.CreateReadOnlySpan(ref At(ref m1, whole), rest).CopyTo(pad[16..]);
        MemoryMarshal.CreateReadOnlySpan(ref At(ref m2, whole), rest).CopyTo(pad[32..]);
        {
            var x = Vector512.Create(pad[..16]); var m = Vector512.Create(pad.Slice(16, 16)); var v = Vector512.Create(pad.Slice(32, 16));
            stored |= ZeroGradientAdam16(c, ref x, ref m, ref v);
            x.CopyTo(pad); m.CopyTo(pad[16..]); v.CopyTo(pad[32..]);
        }
        pad[..rest].CopyTo(MemoryMarshal.CreateSpan(ref At(ref w, whole), rest));
        pad.Slice(16, rest).CopyTo(MemoryMarshal.CreateSpan(ref At(ref m1, whole), rest));
        pad.Slice(32, rest).CopyTo(MemoryMarshal.CreateSpan(ref At(ref m2, whole), rest));
        return (stored & StoreW) != 0;
    }

    /// <summary>
    /// <see cref="ZeroGradientAdam"/> for <paramref name="steps"/>[0], [1], … in turn on one row: the same bits as one call per
    /// step. The update is element-wise, so each vector of 16 floats goes through every step in registers — one load and
    /// one store per vector instead of per step, and the per-call work (the row's tail padded, the step's constants) once
    /// per vector and step rather than per row and step. The chains a step carries to the next are the moments' multiply-
    /// adds only (the square root and the divisions feed the weight, which no later step's moments read), so the steps
    /// pipeline. A tail that fills no whole vector is padded once (w = 1, m = v = 0): padding lanes stay exactly so through
    /// any step with a finite step size (m′ = v′ = +0, w − s·(0 ⊘ ε) = 1), so every step sees the lanes a fresh padding
    /// would give it (and every path of the step is exact lane by lane, so real lanes would not differ even if not).
    /// Replaying rows that no step read for tens of steps (the ML-20M shape) was 62 % of GMF's and 55 % of BPR-MF's time in
    /// `perf`, mostly that per-call work.
    /// </summary>
    internal static void ZeroGradientAdamSteps(ReadOnlySpan<StepFactors> steps, ref float w, ref float m1, ref float m2, int len)
    {
        if (!Vector512.IsHardwareAccelerated || steps.Length == 1)
        {
            foreach (ref readonly var f in steps) ZeroGradientAdam(f, ref w, ref m1, ref m2, len);
            return;
        }
        int whole = len - len % 16;
        for (int i = 0; i < whole; i += 16)
        {
            var x = Vector512.LoadUnsafe(ref w, (nuint)i); var m = Vector512.LoadUnsafe(ref m1, (nuint)i); var v = Vector512.LoadUnsafe(ref m2, (nuint)i);
            ZeroGradientAdam16Steps(steps, ref x, ref m, ref v);
            x.StoreUnsafe(ref w, (nuint)i); m.StoreUnsafe(ref m1, (nuint)i); v.StoreUnsafe(ref m2, (nuint)i);
        }
        int rest = len - whole;
        if (rest == 0) return;
        if (rest == 8)
        {
            var x = Vector512.Create(Vector256.LoadUnsafe(ref w, (nuint)whole), Vector256.Create(1f));
            var m = Vector512.Create(Vector256.LoadUnsafe(ref m1, (nuint)whole), Vector256<float>.Zero);
            var v = Vector512.Create(Vector256.LoadUnsafe(ref m2, (nuint)whole), Vector256<float>.Zero);
            ZeroGradientAdam16Steps(steps, ref x, ref m, ref v);
            x.GetLower().StoreUnsafe(ref w, (nuint)whole); m.GetLower().StoreUnsafe(ref m1, (nuint)whole); v.GetLower().StoreUnsafe(ref m2, (nuint)whole);
            return;
        }
        // the tail padded as ZeroGradientAdam pads it, written out in both on purpose: shared load / store helpers (vector
        // out parameters) cost CML's per-step replay ≈ 10 % and GMF's ≈ 7 % on the ML-20M shape, measured
        Span<float> pad = stackalloc float[48];
        pad[..16].Fill(1f); pad[16..].Clear();
        MemoryMarshal.CreateReadOnlySpan(ref At(ref w, whole), rest).CopyTo(pad);
        MemoryMarshal.CreateReadOnlySpan(ref At(ref m1, whole), rest).CopyTo(pad[16..]);
        MemoryMarshal.CreateReadOnlySpan(ref At(ref m2, whole), rest).CopyTo(pad[32..]);
        {
            var x = Vector512.Create(pad[..16]); var m = Vector512.Create(pad.Slice(16, 16)); var v = Vector512.Create(pad.Slice(32, 16));
            ZeroGradientAdam16Steps(steps, ref x, ref m, ref v);
            x.CopyTo(pad); m.CopyTo(pad[16..]); v.CopyTo(pad[32..]);
        }
        pad[..rest].CopyTo(MemoryMarshal.CreateSpan(ref At(ref w, whole), rest));
        pad.Slice(16, rest).CopyTo(MemoryMarshal.CreateSpan(ref At(ref m1, whole), rest));
        pad.Slice(32, rest).CopyTo(MemoryMarshal.CreateSpan(ref At(ref m2, whole), rest));
    }

    /// <summary>One vector through every step of <paramref name="steps"/> (its own method, so the long step is compiled once
    /// and the vectors stay in registers across the loop).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void ZeroGradientAdam16Steps(ReadOnlySpan<StepFactors> steps, ref Vector512<float> xr, ref Vector512<float> mr, ref Vector512<float> vr)
    {
        var x = xr; var m = mr; var v = vr;
        for (int s = 0; s < steps.Length; s++) ZeroGradientAdam16(new ZeroGradientConstants(steps[s]), ref x, ref m, ref v);
        xr = x; mr = m; vr = v;
    }

    private const int StoreM = 1, StoreW = 2;

    /// <summary>The per-step constants of <see cref="ZeroGradientAdam"/>, in vectors (the bounds come with the step's factors).</summary>
    private readonly struct ZeroGradientConstants(in StepFactors f)
    {
        public readonly Vector512<float> Step = Vector512.Create(f.AdamStep), Bc2 = Vector512.Create(f.AdamBc2), K = Vector512.Create(f.NoMoveK),
            Floor = Vector512.Create(NoMoveWeight), SubnormalFloor = Vector512.Create(f.SubnormalNoMoveWeight);
        public readonly bool Shortcuts = f.AdamStep is > 0f and < 1048576f;   // s in (0, 2²⁰): the bounds hold
    }

    /// <summary>One vector of 16 floats of <see cref="ZeroGradientAdam"/>: x (weights), m, v in and out; returns which of
    /// m (<see cref="StoreM"/>) and x (<see cref="StoreW"/>) it changed (v always).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int ZeroGradientAdam16(in ZeroGradientConstants c, ref Vector512<float> x, ref Vector512<float> m, ref Vector512<float> v)
    {
        var b1 = Vector512.Create(Beta1); var c1 = Vector512.Create(1f - Beta1);
        var b2 = Vector512.Create(Beta2); var c2 = Vector512.Create(1f - Beta2);
        var e = Vector512.Create(AdamEps);
        var g = Vector512<float>.Zero;
        var absMask = Vector512.Create(int.MaxValue);
        var minNormal = Vector512.Create(0x00800000);   // the bits of the smallest normal float
        var inf = Vector512.Create(0x7F800000u);        // v in [+0, +∞] ⇔ its bits in [0, these]: no NaN, no negative
        var maxW = Vector512.Create(float.PositiveInfinity);   // finite w: the bound below is finite
        var maxM = Vector512.Create(7.9228163e28f);            // 2⁹⁶: m′ / den ≤ 2⁹⁶ / ε < 2¹²³ cannot overflow
        var scale = Vector512.Create(1f / 67108864f);          // 2⁻²⁶
        if (c.Shortcuts)
        {
            var bits = m.AsInt32();
            var mag = bits & absMask;
            var zero = Vector512.Equals(mag, Vector512<int>.Zero);
            if (Vector512.LessThanOrEqualAll(mag, Vector512.Create(4)) && !Vector512.EqualsAny(bits, Vector512.Create(int.MinValue)))
            {
                // lanes with m = +0 keep any w but a NaN (w − 0 would quiet a signalling one); the others need
                // |w| ≥ 2⁻⁶⁰ (NaN fails); every v′ must be in [+0, +∞] (a NaN or negative v′ makes the full update NaN,
                // even for m = 0)
                var vv = b2 * v + c2 * (g * g);
                if (((zero & Vector512.Equals(x, x).AsInt32()) | Vector512.GreaterThanOrEqual(Vector512.Abs(x), c.Floor).AsInt32()) == Vector512<int>.AllBitsSet
                    && Vector512.LessThanOrEqualAll(vv.AsUInt32(), inf))
                {
                    v = vv;
                    return 0;
                }
            }
            else if (Vector512.LessThanAll(mag, minNormal))   // every m ±0 or subnormal
            {
                var vb = v.AsUInt32();
                var ax = Vector512.Abs(x);
                if (Vector512.LessThanOrEqualAll(vb, inf) && (Vector512.Equals(vb, Vector512<uint>.Zero) | Vector512.GreaterThanOrEqual(vb, minNormal.AsUInt32())) == Vector512<uint>.AllBitsSet
                    && ((zero & Vector512.Equals(x, x).AsInt32()) | (Vector512.GreaterThanOrEqual(ax, c.SubnormalFloor) & Vector512.LessThan(ax, maxW)).AsInt32()) == Vector512<int>.AllBitsSet)
                {
                    // k′ = (k·15099494 + 2²³ − 1 + (⌊k·15099494 / 2²⁴⌋ mod 2)) / 2²⁴: the product rounded to nearest, ties to even
                    var (lo, hi) = Vector512.Widen(mag);
                    var mul = Vector512.Create(15099494L); var half = Vector512.Create(0x7FFFFFL); var one = Vector512.Create(1L);
                    lo *= mul; hi *= mul;
                    lo = (lo + half + ((lo >> 24) & one)) >> 24;
                    hi = (hi + half + ((hi >> 24) & one)) >> 24;
                    m = Vector512.ConditionalSelect(zero, Vector512<int>.Zero, (bits & Vector512.Create(int.MinValue)) | Vector512.Narrow(lo, hi)).AsSingle();
                    v = b2 * v + c2 * (g * g);
                    return StoreM;
                }
            }
            else if ((zero | Vector512.GreaterThanOrEqual(mag, minNormal)) == Vector512<int>.AllBitsSet)   // no subnormal m
            {
                var mm = b1 * m + c1 * g;
                var vv = b2 * v + c2 * (g * g);
                m = mm; v = vv;
                var ax = Vector512.Abs(x);
                if (Vector512.GreaterThanOrEqualAll(ax, c.Floor) && Vector512.LessThanAll(ax, maxW) && Vector512.LessThanAll(Vector512.Abs(mm), maxM)
                    && Vector512.LessThanAll(Vector512.Abs(mm) * c.K, ax * scale) && Vector512.LessThanOrEqualAll(vv.AsUInt32(), inf))
                    return StoreM;
                x -= c.Step * (mm / (Vector512.Sqrt(vv) / c.Bc2 + e));
                return StoreM | StoreW;
            }
        }
        var mn = b1 * m + c1 * g;
        var vn = b2 * v + c2 * (g * g);
        m = mn; v = vn;
        x -= c.Step * (mn / (Vector512.Sqrt(vn) / c.Bc2 + e));
        return StoreM | StoreW;
    }

    /// <summary>row ← row / max(‖row‖, 1). The norm is TensorPrimitives.Norm's, bit for bit; the division is element-wise (one
    /// correctly rounded division per float, whatever the vector width), inline: after an update most CML rows sit just
    /// outside the ball, so this runs for nearly every row of every step.</summary>
    internal static void ProjectRow(float[] table, nint o, int width)
    {
        var row = table.AsSpan((int)o, width);
        float norm = FusedMath.Norm(row);
        if (!(norm > 1f)) return;
        ref float r = ref At(table, o);
        int vw = Vector<float>.Count, whole = width - width % vw;
        var vn = new Vector<float>(norm);
        for (int i = 0; i < whole; i += vw) St(Ld(ref r, i) / vn, ref r, i);
        for (int i = whole; i < width; i++) At(ref r, i) /= norm;
    }

    // ------------------------------------------------------------------ scoring

    private float[] _qt = [], _e = [];
    private int _cacheVersion = -1, _pairVersion = -1, _itemsPad;
    private int* _aUsers; private float* _aOut; private int _aCount, _aSegs;

    public void ScorePairs(ReadOnlySpan<int> users, ReadOnlySpan<int> items, Span<float> scores)
    {
        if (users.Length != items.Length || scores.Length < users.Length) throw new ArgumentException("users, items and scores must have matching lengths.");
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            CatchUpAll();
            for (int x = 0; x < users.Length; x++)
            {
                if ((uint)users[x] >= (uint)_users) throw new ArgumentOutOfRangeException(nameof(users), $"users[{x}] = {users[x]} outside [0, {_users}).");
                if ((uint)items[x] >= (uint)_items) throw new ArgumentOutOfRangeException(nameof(items), $"items[{x}] = {items[x]} outside [0, {_items}).");
                if (_k is not ChunkKernel) scores[x] = _k.Score(_p.AsSpan(users[x] * _su, _uw), _q.AsSpan(items[x] * _si, _iw), _dense.AsSpan(0, _nd));
            }
            if (_k is ChunkKernel ck)
            {
                if (_pairVersion != _version) { ck.BeginStep(_dense.AsSpan(0, _nd)); _pairVersion = _version; }
                ck.ScorePairs(_p, _su, _q, _si, users, items, scores);
            }
        }
    }

    /// <summary>
    /// All-item scores as a matrix product (score = a(u)·q_i + c(u) + e(i), e.g. CML's −‖p−q‖² = 2p·q − ‖p‖² − ‖q‖²):
    /// blocks of 16 users × 256 items through a register-tiled GEMM against a transposed item cache, in parallel; no
    /// users × items × d intermediate. Memory: the cache (items × item width) and one 16 × 256 tile per worker.
    /// </summary>
    public void ScoreAllItems(ReadOnlySpan<int> users, Span<float> scores)
    {
        if (scores.Length < (long)users.Length * _items) throw new ArgumentException($"scores needs {users.Length} × {_items} floats (got {scores.Length}).");
        for (int x = 0; x < users.Length; x++)
            if ((uint)users[x] >= (uint)_users) throw new ArgumentOutOfRangeException(nameof(users), $"users[{x}] = {users[x]} outside [0, {_users}).");
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            CatchUpAll();
            if (_cacheVersion != _version)
            {
                _itemsPad = (_items + Segment - 1) / Segment * Segment;
                if (_k is not ChunkKernel && _qt.LongLength != (long)_iw * _itemsPad) { _qt = new float[(long)_iw * _itemsPad]; _e = new float[_itemsPad]; }
                if (_k is ChunkKernel ck) ck.CacheItems(_q, _si, _items, _dense.AsSpan(0, _nd), _pool.Threads);
                else
                    for (int i = 0; i < _items; i++)
                    {
                        var row = _q.AsSpan(i * _si, _iw);
                        for (int j = 0; j < _iw; j++) _qt[(long)j * _itemsPad + i] = row[j];
                        _e[i] = _k.ScoreItem(row);
                    }
                _cacheVersion = _version;
            }
            fixed (int* pu = users) fixed (float* ps = scores)
            {
                _aUsers = pu; _aOut = ps; _aCount = users.Length; _aSegs = _itemsPad / Segment;
                _work.Run(WorkPhase.Score, (users.Length + UserBlock - 1) / UserBlock * _aSegs);
                _aUsers = null; _aOut = null;
            }
        }
    }

    private float[][] _tiles = [];

    private void ScoreTile(int item, int worker)
    {
        int ub = item / _aSegs, seg = item % _aSegs, u0 = ub * UserBlock, n = Math.Min(UserBlock, _aCount - u0), si = _si;
        if (_k is ChunkKernel ck)
        {
            int j0 = seg * Segment, m = Math.Min(Segment, _items - j0);
            for (int x = 0; x < n; x++) ck.ScoreSegment(worker, _p.AsSpan(_aUsers[u0 + x] * _su, _uw), j0, new Span<float>(_aOut + (long)(u0 + x) * _items + j0, m));
            return;
        }
        var tile = _tiles[worker];   // UserBlock × si user vectors, then UserBlock × Segment scores, then UserBlock c(u)
        var a = tile.AsSpan(0, UserBlock * si);
        var c = tile.AsSpan(UserBlock * (si + Segment), UserBlock);
        for (int x = 0; x < n; x++) c[x] = _k.ScoreUser(_p.AsSpan(_aUsers[u0 + x] * _su, _uw), _dense.AsSpan(0, _nd), a.Slice(x * si, _iw));
        int i0 = seg * Segment, cnt = Math.Min(Segment, _items - i0);
        ref float outTile = ref At(tile, UserBlock * si);
        Gemm(ref Ref(tile), si, 1, ref At(_qt, i0), _itemsPad, ref outTile, Segment, n, _iw, Segment, false);
        for (int x = 0; x < n; x++)
        {
            var dst = new Span<float>(_aOut + (long)(u0 + x) * _items + i0, cnt);
            TensorPrimitives.Add(tile.AsSpan(UserBlock * si + x * Segment, cnt), _e.AsSpan(i0, cnt), dst);
            TensorPrimitives.Add(dst, c[x], dst);
        }
    }

    // ------------------------------------------------------------------ threads

    /// <summary>The examples' phase's first items: the user index, then (row-sparse optimisers) the item index.</summary>
    private int IndexEarly => _allItemsTouched ? 2 : 1;

    private enum WorkPhase { Examples, Index, Rows, Sweep, CatchUp, CatchUpAll, Score }

    private sealed class Work(EmbeddingEngine e) : IParallelWork
    {
        private WorkPhase _phase;
        public string Phase => _phase switch
        {
            WorkPhase.Examples => e.IndexEarly == 2 ? "examples (and index)" : "examples (and user index)",
            WorkPhase.Index => "item index",
            WorkPhase.Rows => "rows (gradient sums; updates unless swept)",
            WorkPhase.Sweep => "exact-Adam sweep (every row)",
            WorkPhase.CatchUp => "replay owed steps",
            WorkPhase.CatchUpAll => "catch up every row",
            _ => "score",
        };
        public void Run(WorkPhase phase, int count)
        {
            _phase = phase;
            if (phase == WorkPhase.Score && e._tiles.Length == 0)
                e._tiles = Enumerable.Range(0, e._pool.Threads).Select(_ => new float[UserBlock * (e._si + Segment + 1)]).ToArray();
            e._pool.Run(this, count);
        }
        public void Execute(int item, int worker)
        {
            switch (_phase)
            {
                case WorkPhase.Examples:
                    if (item < e.IndexEarly) e.RunIndex(item);
                    else e.RunChunk(item - e.IndexEarly, worker);
                    break;
                case WorkPhase.Rows: e.RunRows(item); break;
                case WorkPhase.Sweep: e.RunSweep(item); break;
                case WorkPhase.Index: e.RunIndex(1); break;   // only exact Adam's items are indexed after the examples
                case WorkPhase.CatchUp: e.Owed.Run(item); break;
                case WorkPhase.CatchUpAll: e.RunCatchUpAll(item); break;
                case WorkPhase.Score: e.ScoreTile(item, worker); break;
            }
        }
    }

    // ------------------------------------------------------------------ state

    /// <summary>Parameters first (P, Q, dense: what <see cref="EmbeddingState.ReadWeights"/> reads), then the first and second moments.</summary>
    private IEnumerable<(float[] Table, int Rows, int Width, int Stride)> Tensors()
    {
        var groups = new[] { (_p, _p1, _p2, _users, _uw, _su), (_q, _q1, _q2, _items, _iw, _si), (_dense, _d1, _d2, 1, _nd, _dense.Length) };
        foreach (var (t, _, _, rows, w, s) in groups) yield return (t, rows, w, s);
        foreach (var (_, m1, _, rows, w, s) in groups) if (m1 is not null) yield return (m1, rows, w, s);
        foreach (var (_, _, m2, rows, w, s) in groups) if (m2 is not null) yield return (m2, rows, w, s);
    }

    private string Shape => $"{_k.Name}|{_users}x{_items}|{_uw}|{_iw}|{_nd}|{_k.Optimizer}";   // the format EmbeddingState reads

    /// <summary>Parameters, optimiser state and step count: a <see cref="LoadState"/> on an engine of the same model, shape and
    /// optimiser continues bit-identically.</summary>
    public byte[] SaveState()
    {
        lock (_gate)
        {
            CatchUpAll();
            using var ms = new MemoryStream();
            using (var wr = new BinaryWriter(ms))
            {
                wr.Write(EmbeddingState.Magic); wr.Write(EmbeddingState.Version); wr.Write(Shape); wr.Write(_step);
                foreach (var (t, rows, w, s) in Tensors())
                    for (int r = 0; r < rows; r++)
                        foreach (float v in t.AsSpan(r * s, w)) wr.Write(v);
            }
            return _k.OwnRng is { } rng ? TorchSupport.WithRngState(ms.ToArray(), rng) : ms.ToArray();
        }
    }

    public void LoadState(byte[] state)
    {
        ArgumentNullException.ThrowIfNull(state);
        string what = $"fused {_k.Name} state";
        ulong[]? rng = null;
        if (_k.OwnRng is not null) state = TorchSupport.WithoutRngState(state, $"Not a {what} with its sampler state.", out rng);
        lock (_gate)
        {
            using var rd = new BinaryReader(new MemoryStream(state));
            try
            {
                if (rd.ReadString() != EmbeddingState.Magic) throw new DataFormatException(what, 0, "not a fused embedding-model state (bad header).");
                int version = rd.ReadInt32();
                if (version != EmbeddingState.Version) throw new DataFormatException(what, 0, $"unsupported version {version}.");
                string shape = rd.ReadString();
                if (shape != Shape) throw new DataFormatException(what, 0, $"state of {shape} does not fit this model ({Shape}).");
                long step = rd.ReadInt64();
                long need = rd.BaseStream.Position + 4L * Tensors().Sum(x => (long)x.Rows * x.Width);
                if (need != state.Length) throw new DataFormatException(what, 0, $"length {state.Length} bytes, expected {need}.");
                foreach (var (t, rows, w, s) in Tensors())
                    for (int r = 0; r < rows; r++)
                        for (int j = 0; j < w; j++) t[r * s + j] = rd.ReadSingle();
                _step = step;
                if (_atU is not null) { Array.Fill(_atU, step); Array.Fill(_atI!, step); _owedFrom = step + 1; }
                if (rng is not null) _k.OwnRng!.SetState(rng);   // only once the parameters loaded: a rejected state changes nothing
                _version++;
            }
            catch (EndOfStreamException) { throw new DataFormatException(what, 0, "truncated state."); }
        }
    }

    public bool ParametersAreFinite()
    {
        lock (_gate)
        {
            CatchUpAll();
            return AllFinite(_p) && AllFinite(_q) && AllFinite(_dense);
        }
    }

    private static bool AllFinite(float[] a)
    {
        foreach (float v in a) if (!float.IsFinite(v)) return false;
        return true;
    }

    public double MaxAbsParameter()
    {
        lock (_gate)
        {
            CatchUpAll();
            if (!AllFinite(_p) || !AllFinite(_q) || !AllFinite(_dense)) return double.NaN;
            return Math.Max(Math.Max(TensorPrimitives.MaxMagnitude<float>(_p), TensorPrimitives.MaxMagnitude<float>(_q)), Math.Abs(TensorPrimitives.MaxMagnitude<float>(_dense)));
        }
    }

    public IReadOnlyDictionary<string, object?> Describe()
    {
        var d = ConfigBinder.ToJson(_k.Config).ToDictionary(kv => kv.Key, kv => (object?)kv.Value?.ToString());
        d["Model"] = _k.Name; d["Engine"] = "fused"; d["NumUsers"] = _users; d["NumItems"] = _items;
        d["DType"] = "Float32"; d["Device"] = "cpu"; d["Threads"] = Threads; d["ChunkSize"] = Chunk; d["Step"] = _step;
        d["OptimizerSemantics"] = _k.Optimizer switch
        {
            OptimizerKind.Adam => ReplayUnreadRows
                ? "Adam: exact dense PyTorch Adam (every row's moments decay and every row moves each step; a row a step does not read replays that step when next read, with the same bits)"
                : "Adam: exact dense PyTorch Adam (every row's moments decay and every row moves each step: the tables are swept)",
            OptimizerKind.LazyAdam => "LazyAdam: SparseAdam formula on the rows in the batch (global t), dense Adam on dense parameters",
            OptimizerKind.Sgd => "SGD: row-sparse, exact (zero-gradient rows do not move)",
            _ => "Adagrad (PyTorch, accumulator 0, eps 1e-10): row-sparse, exact",
        };
        if (_k.ProjectRows) d["Projection"] = "every updated row onto the unit ball after each step";
        return d;
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _pool.Dispose();
    }
}
