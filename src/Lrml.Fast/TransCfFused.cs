using System.Numerics.Tensors;
using Lrml.Data;
using Lrml.Protocols;
using Lrml.Models;
using Lrml.Util;
using static Lrml.Fast.FusedMath;
using T = System.Numerics.Tensors.TensorPrimitives;

namespace Lrml.Fast;

/// <summary>
/// The fused CPU engine of TransCF (<see cref="TransCfModel"/>: same loss, gradients, optimisers, projection, initial weights
/// and neighbour draws). A step indexes the batch's distinct users and items (the reference's order: users, then positives,
/// then negatives), draws their neighbour samples from "transcf.neighbours" in that order, computes each distinct
/// neighbourhood mean once, runs the per-example forward and backward over fixed chunks of 64 examples in parallel, sums
/// each mean's gradient over its occurrences once, lists every row's gradient sources (its direct gradients and the means
/// it belongs to) by a stable counting sort, and sweeps P and Q in row blocks: each row's gradient summed over its sources,
/// then the optimiser of <see cref="EmbeddingEngine"/> (dense, as the reference's; SGD/Adagrad leave zero-gradient rows
/// unchanged; LazyAdam, which the TorchSharp model does not offer, moves only rows with a gradient source). Every sum has a fixed order, so results are bit-identical for any thread count. Full ranking expands ‖x + m⊙n − β‖² into one matrix product of 4d + 2 wide user
/// and item features on <see cref="EmbeddingEngine"/>'s GEMM scorer.
/// </summary>
internal sealed class TransCfFused : ITrainableRecommender, IPhaseTimed
{
    private const int Chunk = 64, SlotBlock = 32, RowBlock = 256;
    private const string Magic = "LRML-TRANSCF-FUSED";
    private const int Version = 1;

    private readonly TransCfConfig _c;
    private readonly int _users, _items, _d;
    private readonly float[] _p, _q;                            // users × d, items × d (padded at the end to whole vectors)
    private readonly float[]? _p1, _p2, _q1, _q2;
    private readonly int[] _uOff, _uItems, _iOff, _iUsers;    // training items of each user, users of each item (ascending)
    private readonly Rng _rng;
    private readonly WorkerPool _pool;
    private readonly Work _work;
    private readonly object _gate = new();
    private readonly int[] _slotOfUser, _slotOfItem;
    private readonly float[][] _scratch;
    private long _step;
    private StepFactors _f;
    private int _version;
    private bool _disposed;

    public TransCfFused(TransCfConfig config, UserItems train, float[] users, float[] items, long seed, int threads)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(train);
        config.Validate();
        _c = config; _d = config.Dim; _users = train.NumUsers; _items = train.NumItems;
        if (_users < 1 || _items < 1) throw new ArgumentException("A model needs at least one user and one item.");
        if (users.LongLength != (long)_users * _d || items.LongLength != (long)_items * _d)
            throw new ArgumentException($"TransCF: initial weights do not match {_users}×{_d} users and {_items}×{_d} items.");
        _p = Table(_users); _q = Table(_items);
        _tOffP = new int[_users + 1]; _tOffQ = new int[_items + 1];
        users.CopyTo(_p, 0); items.CopyTo(_q, 0);
        if (config.Optimizer is OptimizerKind.Adam or OptimizerKind.LazyAdam) { _p1 = Table(_users); _q1 = Table(_items); }
        if (config.Optimizer != OptimizerKind.Sgd) { _p2 = Table(_users); _q2 = Table(_items); }
        _uOff = train.Offsets; _uItems = train.Items;
        _iOff = new int[_items + 1];
        foreach (int i in _uItems) _iOff[i + 1]++;
        for (int i = 0; i < _items; i++) _iOff[i + 1] += _iOff[i];
        _iUsers = new int[_uItems.Length];
        var fill = _iOff[.._items];
        for (int u = 0; u < _users; u++)
            foreach (int i in train[u]) _iUsers[fill[i]++] = u;
        _rng = new Rng(seed, "transcf.neighbours");
        _pool = new WorkerPool(threads < 1 ? Environment.ProcessorCount : threads);
        _work = new Work(this);
        _slotOfUser = new int[_users]; Array.Fill(_slotOfUser, -1);
        _slotOfItem = new int[_items]; Array.Fill(_slotOfItem, -1);
        _scratch = Enumerable.Range(0, _pool.Threads).Select(_ => new float[Math.Max(3 * _d, Pad(RowBlock * _d))]).ToArray();
    }

    /// <summary>Seeded as <see cref="TransCfModel"/> (streams "transcf.init.P/Q").</summary>
    public static TransCfFused Create(TransCfConfig c, UserItems train, long seed, int threads)
    {
        c.Validate();
        return new TransCfFused(c, train, TorchSupport.GaussianInit((long)train.NumUsers * c.Dim, c.InitStd, seed, "transcf.init.P"),
            TorchSupport.GaussianInit((long)train.NumItems * c.Dim, c.InitStd, seed, "transcf.init.Q"), seed, threads);
    }

    private float[] Table(int rows) => LargeArrays.Floats(Pad(rows * _d));

    public string Name => "TransCF";
    public int NumUsers => _users;
    public int NumItems => _items;
    public long StepCount => _step;

    /// <summary>Copies of the embeddings (users × d, items × d).</summary>
    public (float[] Users, float[] Items) Export()
    {
        lock (_gate) return (_p[..(_users * _d)], _q[..(_items * _d)]);
    }

    // ------------------------------------------------------------------ training

    private TrainingBatch? _batch;
    private int _b, _t, _nu, _ni, _cap = -1, _capT;
    private int[] _exU = [], _rows = [], _occ = [], _uniqU = [], _uniqI = [], _nbrOff = [], _nbr = [];
    private float[] _scale = [], _mean = [], _sg = [], _gx = [], _gm = [], _gb = [], _gn = [];
    private double[] _chunkLoss = [];
    private readonly int[] _tOffP, _tOffQ;                   // gradient sources of every user / item row (CSR), in a fixed order
    private int[] _tSrcP = [], _tSrcQ = [];
    private float[]? _gradOut;                               // ComputeGradient: users × d then items × d instead of a step

    public double TrainStep(TrainingBatch batch)
    {
        lock (_gate)
        {
            var clock = _pool.Clock;
            clock?.BeginStep();
            try
            {
                double loss = Forward(batch, _c.NeighbourSample);
                _f = StepFactors.At(_c.LearningRate, ++_step);
                _work.Run(Stage.Sweep, Blocks(_users) + Blocks(_items));
                return loss;
            }
            finally { Release(); _version++; clock?.EndStep(); }
        }
    }

    /// <inheritdoc/>
    PhaseClock? IPhaseTimed.PhaseClock { get => _pool.Clock; set { lock (_gate) _pool.Clock = value; } }   // never in the middle of a step

    /// <inheritdoc/>
    long IPhaseTimed.SweptAdamFloats => _c.Optimizer == OptimizerKind.Adam ? (long)_p.Length + _q.Length : 0;   // the reference's dense Adam

    /// <summary>Loss and dense gradients of P and Q (users × d, items × d) without updating; all neighbours, as the reference's
    /// ComputeGradients.</summary>
    internal (double Loss, float[] Users, float[] Items) ComputeGradient(TrainingBatch batch)
    {
        lock (_gate)
        {
            try
            {
                double loss = Forward(batch, 0);
                _gradOut = new float[Pad((_users + _items) * _d + RowBlock * _d)];
                _work.Run(Stage.Sweep, Blocks(_users) + Blocks(_items));
                return (loss, _gradOut[..(_users * _d)], _gradOut[(_users * _d)..((_users + _items) * _d)]);
            }
            finally { Release(); _gradOut = null; }
        }
    }

    /// <summary>Everything up to the per-example gradients, the means' summed gradients and each row's gradient sources;
    /// returns the loss. The rows' gradients are summed in the sweep.</summary>
    private double Forward(TrainingBatch batch, int sample)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        TorchSupport.CheckBatch(batch, _users, _items);   // the same checks and messages as the TorchSharp models
        int b = batch.Count, k = batch.NegativesPerPositive;
        EnsureCapacity(b, k + 1);
        _batch = batch; _b = b; _t = k + 1;
        // distinct users, then items in the reference's order (positives, then negatives); slots of items follow the users'
        _nu = _ni = 0;
        for (int x = 0; x < b; x++) _exU[x] = Slot(batch.Users[x], _slotOfUser, _uniqU, ref _nu);
        for (int x = 0; x < b; x++) { _rows[x * _t] = batch.Positives[x]; _occ[x * _t] = Slot(batch.Positives[x], _slotOfItem, _uniqI, ref _ni); }
        for (int x = 0; x < b * k; x++)
        {
            int o = x / k * _t + 1 + x % k;
            _rows[o] = batch.Negatives[x]; _occ[o] = Slot(batch.Negatives[x], _slotOfItem, _uniqI, ref _ni);
        }
        for (int o = 0; o < b * _t; o++) _occ[o] += _nu;
        _pool.Clock?.Lap("index");
        // neighbour lists, drawn in the reference's order: users' items, then items' users (positions in the member lists,
        // whose random reads RunMeans does in parallel). The users' draws come first; the items' then go on on one thread
        // while the others average the users' neighbourhoods (the draws are one random stream: serial, but nothing else
        // of the step needs them before the items' means)
        int slots = _nu + _ni;
        long at = 0;
        for (int s = 0; s < slots; s++)
        {
            int n = Members(s, out _, out _);
            _nbrOff[s] = (int)at;   // (checked below: the offsets only grow)
            at += sample > 0 && n > sample ? sample : n;
        }
        if (at > Array.MaxLength) throw new InvalidOperationException($"TransCF: a batch's neighbour lists exceed {Array.MaxLength:N0} entries.");
        _nbrOff[slots] = (int)at;
        if (_nbr.LongLength < at) _nbr = new int[Math.Min(Array.MaxLength, Math.Max(at, 2L * _nbr.Length))];
        _sample = sample;
        Draw(0, _nu);
        _pool.Clock?.Lap("neighbour draws");
        _work.Run(Stage.UserMeans, 1 + (_nu + SlotBlock - 1) / SlotBlock);
        _work.Run(Stage.Means, (_ni + SlotBlock - 1) / SlotBlock);
        int chunks = (b + Chunk - 1) / Chunk;
        _work.Run(Stage.Examples, chunks);
        _work.Run(Stage.Targets, 4);
        double loss = 0;
        for (int c = 0; c < chunks; c++) loss += _chunkLoss[c];
        return loss;
    }

    private int _sample;

    /// <summary>The neighbour lists of slots [s0, s1), in slot order, from the neighbour stream: a slot with more members
    /// than the sample draws positions with replacement, the others list all of theirs.</summary>
    private void Draw(int s0, int s1)
    {
        int sample = _sample;
        for (int s = s0; s < s1; s++)
        {
            int n = Members(s, out _, out int start), at = _nbrOff[s];
            if (sample > 0 && n > sample)
            {
                for (int j = 0; j < sample; j++) _nbr[at++] = start + _rng.NextInt(n);   // a position: RunMeans reads the member
                _scale[s] = (float)(1.0 / sample);
            }
            else
            {
                for (int j = 0; j < n; j++) _nbr[at++] = start + j;
                _scale[s] = n == 0 ? 0f : (float)(1.0 / n);
            }
        }
    }

    /// <summary>dst row += src row (d floats at the given offsets).</summary>
    private void AddRow(float[] src, int srcAt, float[] dst, int dstAt) => T.Add(src.AsSpan(srcAt, _d), dst.AsSpan(dstAt, _d), dst.AsSpan(dstAt, _d));

    private static int Slot(int row, int[] slotOf, int[] uniq, ref int count)
    {
        int s = slotOf[row];
        if (s < 0) { s = count++; uniq[s] = row; slotOf[row] = s; }
        return s;
    }

    /// <summary>Neighbours of slot s: a user slot's training items, an item slot's training users.</summary>
    private int Members(int s, out int[] members, out int start)
    {
        bool user = s < _nu;
        int row = user ? _uniqU[s] : _uniqI[s - _nu];
        int[] off = user ? _uOff : _iOff;
        members = user ? _uItems : _iUsers;
        start = off[row];
        return off[row + 1] - start;
    }

    private void EnsureCapacity(int b, int t)
    {
        if (b <= _cap && t == _capT) return;
        int cap = Math.Max(b, _cap), occ = cap * t, d = _d;
        _exU = new int[cap]; _uniqU = new int[cap]; _rows = new int[occ]; _occ = new int[occ]; _uniqI = new int[occ];
        _nbrOff = new int[cap + occ + 1]; _scale = new float[cap + occ];
        _mean = new float[(cap + occ) * d]; _sg = new float[(cap + occ) * d];
        _gx = new float[cap * d]; _gm = new float[cap * d]; _gb = new float[occ * d]; _gn = new float[occ * d];
        _chunkLoss = new double[(cap + Chunk - 1) / Chunk];
        _cap = cap; _capT = t;
    }

    private void Release()
    {
        for (int s = 0; s < _nu; s++) _slotOfUser[_uniqU[s]] = -1;
        for (int s = 0; s < _ni; s++) _slotOfItem[_uniqI[s]] = -1;
        _nu = _ni = 0;
        _batch = null;
    }

    /// <summary>Neighbourhood means of a block of slots: users average item rows, items average user rows.</summary>
    private void RunMeans(int s0, int s1)
    {
        int d = _d;
        for (int s = s0; s < s1; s++)
        {
            var table = s < _nu ? _q : _p;
            var members = s < _nu ? _uItems : _iUsers;
            int j0 = _nbrOff[s], n = _nbrOff[s + 1] - j0;
            for (int j = j0; j < j0 + n; j++) _nbr[j] = members[_nbr[j]];
            SumRows(ref Ref(table), ref Ref(table), int.MaxValue, _nbr.AsSpan(j0, n), d, ref At(_mean, s * d));
            var dst = _mean.AsSpan(s * d, d);
            T.Multiply(dst, _scale[s], dst);
        }
    }

    /// <summary>
    /// Forward and backward of the examples of one chunk, as the reference: d⁺ = x + m⊙n⁺ − β⁺, s = ‖d‖²; loss Σ_j [γ + s⁺ − s_j]₊
    /// + λ_dist·k·s⁺ + λ_nbr·k·(‖x − m‖² + ‖β⁺ − n⁺‖²). Writes ∂/∂x and ∂/∂m per example, ∂/∂β and ∂/∂n per item occurrence.
    /// </summary>
    private void RunChunk(int chunk, int worker)
    {
        var batch = _batch!;
        int d = _d, t = _t, k = t - 1, e1 = Math.Min(_b, (chunk + 1) * Chunk);
        float margin = _c.Margin, ld = _c.DistanceWeight * k, ln = _c.NeighbourhoodWeight * k;
        var scratch = _scratch[worker];
        Span<float> dp = scratch.AsSpan(0, d), dn = scratch.AsSpan(d, d), tmp = scratch.AsSpan(2 * d, d);
        double loss = 0;
        for (int x = chunk * Chunk; x < e1; x++)
        {
            ReadOnlySpan<float> xu = _p.AsSpan(batch.Users[x] * d, d), m = _mean.AsSpan(_exU[x] * d, d);
            Span<float> gx = _gx.AsSpan(x * d, d), gm = _gm.AsSpan(x * d, d);
            gx.Clear(); gm.Clear();
            float sp = Dist(xu, m, x * t, dp);
            int active = 0;
            for (int j = 1; j < t; j++)
            {
                int o = x * t + j;
                Span<float> gb = _gb.AsSpan(o * d, d), gn = _gn.AsSpan(o * d, d);
                float h = sp - Dist(xu, m, o, dn) + margin;                    // the reference's order: (s⁺ − s⁻) + γ
                if (h >= 0f)                                                   // clamp_min passes the gradient at 0, as torch
                {
                    loss += h; active++;
                    T.MultiplyAdd(dn, -2f, gx, gx);                            // ∂(−s⁻)/∂x = −2d⁻
                    T.Multiply(dn, _mean.AsSpan(_occ[o] * d, d), tmp);
                    T.MultiplyAdd(tmp, -2f, gm, gm);                           // ∂(−s⁻)/∂m = −2d⁻⊙n⁻
                    T.Multiply(dn, 2f, gb);                                    // ∂(−s⁻)/∂β⁻ = 2d⁻
                    T.Multiply(dn, m, gn); T.Multiply(gn, -2f, gn);            // ∂(−s⁻)/∂n⁻ = −2d⁻⊙m
                }
                else { gb.Clear(); gn.Clear(); }
            }
            int o0 = x * t;
            Span<float> gb0 = _gb.AsSpan(o0 * d, d), gn0 = _gn.AsSpan(o0 * d, d);
            ReadOnlySpan<float> n0 = _mean.AsSpan(_occ[o0] * d, d), b0 = _q.AsSpan(_rows[o0] * d, d);
            float c = 2f * (active + ld);                                      // s⁺ enters with weight active + λ_dist·k
            if (ld > 0) loss += ld * (double)sp;
            T.MultiplyAdd(dp, c, gx, gx);
            T.Multiply(dp, n0, tmp); T.MultiplyAdd(tmp, c, gm, gm);
            T.Multiply(dp, -c, gb0);
            T.Multiply(dp, m, gn0); T.Multiply(gn0, c, gn0);
            if (ln > 0)
            {
                T.Subtract(xu, m, tmp);                                        // x − m
                loss += ln * (double)FusedMath.SumOfSquares(tmp);
                T.MultiplyAdd(tmp, 2f * ln, gx, gx); T.MultiplyAdd(tmp, -2f * ln, gm, gm);
                T.Subtract(b0, n0, tmp);                                       // β⁺ − n⁺
                loss += ln * (double)FusedMath.SumOfSquares(tmp);
                T.MultiplyAdd(tmp, 2f * ln, gb0, gb0); T.MultiplyAdd(tmp, -2f * ln, gn0, gn0);
            }
        }
        _chunkLoss[chunk] = loss;
    }

    /// <summary>d = x + m⊙n − β of item occurrence o into <paramref name="diff"/>; returns ‖d‖².</summary>
    private float Dist(ReadOnlySpan<float> xu, ReadOnlySpan<float> m, int o, Span<float> diff)
    {
        T.Multiply(m, _mean.AsSpan(_occ[o] * _d, _d), diff);
        T.Add(xu, diff, diff);
        T.Subtract(diff, _q.AsSpan(_rows[o] * _d, _d), diff);
        return FusedMath.SumOfSquares(diff);
    }

    /// <summary>The gradients of the means spread over P (items 0 and 1: the items' means) or Q (items 2 and 3: the
    /// users'): item 1 or 3 sums them, item 0 or 2 lists the gradient sources of every row of that table as a CSR list in a
    /// fixed order — direct
    /// gradients in batch order, then each neighbourhood mean's share in slot order — by a stable counting sort. A source
    /// v &lt; B (P) or B(k+1) (Q) is a per-example / per-occurrence gradient row, the rest a slot of <c>_sg</c>.</summary>
    private void RunTargets(int item)
    {
        // four independent parts (no element that one writes is written or read by another), so that two threads split
        // them evenly: per table, the means' gradients and the sources' list (the users' table gets the items' means, about twice the users' share)
        bool user = item < 2;
        int rows = user ? _users : _items, direct = user ? _b : _b * _t;
        int[] off = user ? _tOffP : _tOffQ, target = user ? _batch!.Users : _rows;
        int s0 = user ? _nu : 0, s1 = user ? _nu + _ni : _nu;   // item means spread over users, user means over items
        if (item % 2 == 1)
        {
            // those means' gradients, summed over their occurrences in batch order and scaled by 1/|bag|
            int d = _d;
            Array.Clear(_sg, s0 * d, (s1 - s0) * d);
            if (user) for (int o = 0; o < _b * _t; o++) AddRow(_gn, o * d, _sg, _occ[o] * d);
            else for (int x = 0; x < _b; x++) AddRow(_gm, x * d, _sg, _exU[x] * d);
            for (int s = s0; s < s1; s++) T.Multiply(_sg.AsSpan(s * d, d), _scale[s], _sg.AsSpan(s * d, d));
            return;
        }
        Array.Clear(off);
        for (int v = 0; v < direct; v++) off[target[v] + 1]++;
        for (int j = _nbrOff[s0]; j < _nbrOff[s1]; j++) off[_nbr[j] + 1]++;
        for (int r = 0; r < rows; r++) off[r + 1] += off[r];
        ref int[] src = ref user ? ref _tSrcP : ref _tSrcQ;
        if (src.Length < off[rows]) src = new int[Math.Max(off[rows], 2 * src.Length)];
        for (int v = 0; v < direct; v++) src[off[target[v]]++] = v;
        for (int s = s0; s < s1; s++)
            for (int j = _nbrOff[s]; j < _nbrOff[s + 1]; j++) src[off[_nbr[j]]++] = direct + s;
        for (int r = rows; r > 0; r--) off[r] = off[r - 1];   // the fill moved each start to the next row's
        off[0] = 0;
    }

    private static int Blocks(int rows) => (rows + RowBlock - 1) / RowBlock;

    /// <summary>One block of rows of P or Q: each row's gradient summed over its sources (zero for untouched rows), then the
    /// optimiser step and, with <see cref="TransCfProjection.Step"/>, the projection; or the gradients copied out. LazyAdam
    /// visits only the rows with a source.</summary>
    private void RunSweep(int item, int worker)
    {
        int bu = Blocks(_users), d = _d;
        bool user = item < bu;
        int rows = user ? _users : _items, r0 = (user ? item : item - bu) * RowBlock, r1 = Math.Min(rows, r0 + RowBlock);
        int[] off = user ? _tOffP : _tOffQ, src = user ? _tSrcP : _tSrcQ;
        float[] direct = user ? _gx : _gb, w = user ? _p : _q;
        float[]? m1 = user ? _p1 : _q1, m2 = user ? _p2 : _q2;
        int nDirect = user ? _b : _b * _t, o = r0 * d, len = Pad((r1 - r0) * d);
        var g = _scratch[worker];
        if (_c.Optimizer == OptimizerKind.LazyAdam && _gradOut is null)   // SparseAdam: only rows with a gradient source move
        {
            Span<int> touched = stackalloc int[RowBlock];
            int nt = 0;
            for (int r = r0; r < r1; r++) if (off[r + 1] > off[r]) touched[nt++] = r;
            for (int k = 0; k < nt; k++)
            {
                // the touched rows lie scattered over tables that outgrow the caches on big shapes: start their loads early
                if (k + 2 < nt) EmbeddingEngine.PrefetchRow(w, m1, m2, (long)touched[k + 2] * d, d);
                int r = touched[k];
                SumRows(ref Ref(direct), ref Ref(_sg), nDirect, src.AsSpan(off[r], off[r + 1] - off[r]), d, ref Ref(g));
                EmbeddingEngine.Step(OptimizerKind.LazyAdam, _f, ref At(w, r * d), ref At(m1!, r * d), ref At(m2!, r * d), ref Ref(g), d);
                if (_c.Projection == TransCfProjection.Step) EmbeddingEngine.ProjectRow(w, r * d, d);
            }
            return;
        }
        for (int r = r0; r < r1; r++)
        {
            int c0 = off[r], n = off[r + 1] - c0;
            if (n > 0) SumRows(ref Ref(direct), ref Ref(_sg), nDirect, src.AsSpan(c0, n), d, ref At(g, (r - r0) * d));
            else g.AsSpan((r - r0) * d, d).Clear();
        }
        Array.Clear(g, (r1 - r0) * d, len - (r1 - r0) * d);   // the padding after the block's last row
        if (_gradOut is not null) { Array.Copy(g, 0, _gradOut, (user ? 0 : _users * d) + o, (r1 - r0) * d); return; }
        EmbeddingEngine.Step(_c.Optimizer, _f, ref At(w, o), ref m1 is null ? ref Ref(g) : ref At(m1, o), ref m2 is null ? ref Ref(g) : ref At(m2, o),
            ref Ref(g), len);
        if (_c.Projection == TransCfProjection.Step)
            for (int r = r0; r < r1; r++) EmbeddingEngine.ProjectRow(w, r * _d, _d);
    }

    /// <inheritdoc/>
    public void EndEpoch(int epoch)
    {
        if (_c.Projection != TransCfProjection.Epoch) return;
        lock (_gate)
        {
            for (int r = 0; r < _users; r++) EmbeddingEngine.ProjectRow(_p, r * _d, _d);
            for (int r = 0; r < _items; r++) EmbeddingEngine.ProjectRow(_q, r * _d, _d);
            _version++;
        }
    }

    // ------------------------------------------------------------------ scoring

    private float[] _fullU = [], _fullI = [];   // full neighbourhood means of every user and item
    private EmbeddingEngine? _scorer;
    private int _scorerVersion = -1;

    /// <summary>Full neighbourhood means of the current parameters (once per parameter version).</summary>
    private void EnsureMeans()
    {
        if (_scorerVersion == _version) return;
        if (_fullU.Length == 0) { _fullU = Table(_users); _fullI = Table(_items); }
        _work.Run(Stage.FullMeans, Blocks(_users) + Blocks(_items));
        _scorer?.Dispose(); _scorer = null;
        _scorerVersion = _version;
    }

    private void RunFullMeans(int item)
    {
        int bu = Blocks(_users), d = _d;
        bool user = item < bu;
        int rows = user ? _users : _items, r0 = (user ? item : item - bu) * RowBlock, r1 = Math.Min(rows, r0 + RowBlock);
        int[] off = user ? _uOff : _iOff, members = user ? _uItems : _iUsers;
        float[] src = user ? _q : _p, dst = user ? _fullU : _fullI;
        for (int r = r0; r < r1; r++)
        {
            int n = off[r + 1] - off[r];
            SumRows(ref Ref(src), ref Ref(src), int.MaxValue, members.AsSpan(off[r], n), d, ref At(dst, r * d));
            var row = dst.AsSpan(r * d, d);
            T.Multiply(row, n == 0 ? 0f : (float)(1.0 / n), row);
        }
    }

    public void ScorePairs(ReadOnlySpan<int> users, ReadOnlySpan<int> items, Span<float> scores)
    {
        if (users.Length != items.Length || scores.Length < users.Length) throw new ArgumentException("users, items and scores must have matching lengths.");
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            EnsureMeans();
            Span<float> diff = stackalloc float[_d];
            for (int x = 0; x < users.Length; x++)
            {
                if ((uint)users[x] >= (uint)_users) throw new ArgumentOutOfRangeException(nameof(users), $"users[{x}] = {users[x]} outside [0, {_users}).");
                if ((uint)items[x] >= (uint)_items) throw new ArgumentOutOfRangeException(nameof(items), $"items[{x}] = {items[x]} outside [0, {_items}).");
                int u = users[x] * _d, i = items[x] * _d;
                T.Multiply(_fullU.AsSpan(u, _d), _fullI.AsSpan(i, _d), diff);
                T.Add(_p.AsSpan(u, _d), diff, diff);
                T.Subtract(diff, _q.AsSpan(i, _d), diff);
                scores[x] = -FusedMath.SumOfSquares(diff);
            }
        }
    }

    /// <summary>
    /// −‖x + m⊙n − β‖² = −(m⊙m)·(n⊙n) − 2(x⊙m)·n + 2x·β + 2m·(n⊙β) − ‖x‖² − ‖β‖², one product of user features
    /// [−m⊙m, −2x⊙m, 2x, 2m, −‖x‖², 1] and item features [n⊙n, n, β, n⊙β, 1, −‖β‖²] (x = α_u, m = α_u^nbr, β = β_i,
    /// n = β_i^nbr; full neighbourhoods) through <see cref="EmbeddingEngine.ScoreAllItems"/>'s GEMM.
    /// </summary>
    public void ScoreAllItems(ReadOnlySpan<int> users, Span<float> scores)
    {
        EmbeddingEngine scorer;
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            EnsureMeans();
            _scorer ??= BuildScorer();
            scorer = _scorer;
            scorer.ScoreAllItems(users, scores);
        }
    }

    private EmbeddingEngine BuildScorer()
    {
        int d = _d, w = 4 * d + 2;
        var uf = new float[(long)_users * w]; var itf = new float[(long)_items * w];
        for (int u = 0; u < _users; u++)
        {
            ReadOnlySpan<float> x = _p.AsSpan(u * d, d), m = _fullU.AsSpan(u * d, d);
            var f = uf.AsSpan(u * w, w);
            T.Multiply(m, m, f[..d]); T.Negate(f[..d], f[..d]);
            T.Multiply(x, m, f.Slice(d, d)); T.Multiply(f.Slice(d, d), -2f, f.Slice(d, d));
            T.Multiply(x, 2f, f.Slice(2 * d, d));
            T.Multiply(m, 2f, f.Slice(3 * d, d));
            f[4 * d] = -FusedMath.SumOfSquares(x); f[4 * d + 1] = 1f;
        }
        for (int i = 0; i < _items; i++)
        {
            ReadOnlySpan<float> beta = _q.AsSpan(i * d, d), n = _fullI.AsSpan(i * d, d);
            var f = itf.AsSpan(i * w, w);
            T.Multiply(n, n, f[..d]);
            n.CopyTo(f.Slice(d, d));
            beta.CopyTo(f.Slice(2 * d, d));
            T.Multiply(n, beta, f.Slice(3 * d, d));
            f[4 * d] = 1f; f[4 * d + 1] = -FusedMath.SumOfSquares(beta);
        }
        var kernel = new FeatureKernel { UserWidth = w, ItemWidth = w, Optimizer = OptimizerKind.Sgd, LearningRate = _c.LearningRate, Config = _c };
        return new EmbeddingEngine(kernel, _users, _items, uf, itf, null, _pool.Threads);
    }

    /// <summary>score = a·q of precomputed feature rows (scoring only).</summary>
    private sealed class FeatureKernel : EmbeddingKernel
    {
        public override string Name => "TransCF";
        public override double Example(ReadOnlySpan<float> p, ReadOnlySpan<float> q, ReadOnlySpan<int> rows, int stride, int count, ReadOnlySpan<float> dense,
            float coef, Span<float> gp, Span<float> gq, Span<bool> live, Span<float> gDense) => throw new NotSupportedException("The feature scorer does not train.");
        public override float Score(ReadOnlySpan<float> p, ReadOnlySpan<float> q, ReadOnlySpan<float> dense) => FusedMath.Dot(p, q);
        public override float ScoreUser(ReadOnlySpan<float> p, ReadOnlySpan<float> dense, Span<float> a) { p.CopyTo(a); return 0f; }
    }

    // ------------------------------------------------------------------ threads

    private enum Stage { UserMeans, Means, Examples, Targets, Sweep, FullMeans }

    private sealed class Work(TransCfFused e) : IParallelWork
    {
        private Stage _phase;
        public void Run(Stage phase, int count) { _phase = phase; e._pool.Run(this, count); }
        public string Phase => _phase switch
        {
            Stage.UserMeans => "users' neighbourhood means (and items' neighbour draws)",
            Stage.Means => "items' neighbourhood means",
            Stage.Examples => "examples",
            Stage.Targets => "gradient sources",
            Stage.Sweep => "rows (gradient sums + update)",
            _ => "full means (scoring)",
        };
        public void Execute(int item, int worker)
        {
            switch (_phase)
            {
                case Stage.UserMeans:   // item 0 draws the items' neighbours, the others average blocks of user slots
                    if (item == 0) e.Draw(e._nu, e._nu + e._ni);
                    else e.RunMeans((item - 1) * SlotBlock, Math.Min(e._nu, item * SlotBlock));
                    break;
                case Stage.Means: e.RunMeans(e._nu + item * SlotBlock, Math.Min(e._nu + e._ni, e._nu + (item + 1) * SlotBlock)); break;
                case Stage.Examples: e.RunChunk(item, worker); break;
                case Stage.Targets: e.RunTargets(item); break;
                case Stage.Sweep: e.RunSweep(item, worker); break;
                case Stage.FullMeans: e.RunFullMeans(item); break;
            }
        }
    }

    // ------------------------------------------------------------------ state

    private IEnumerable<(float[] Table, int Rows)> Tensors() =>
        new[] { (_p, _users), (_q, _items), (_p1, _users), (_q1, _items), (_p2, _users), (_q2, _items) }
            .Where(x => x.Item1 is not null).Select(x => (x.Item1!, x.Item2));

    private string Shape => $"TransCF|{_users}x{_items}|{_d}|{_c.Optimizer}";

    /// <summary>Parameters, optimiser state, step count and the neighbour sampler's position: <see cref="LoadState"/> on an
    /// engine of the same shape continues bit-identically.</summary>
    public byte[] SaveState()
    {
        lock (_gate)
        {
            using var ms = new MemoryStream();
            using (var wr = new BinaryWriter(ms))
            {
                wr.Write(Magic); wr.Write(Version); wr.Write(Shape); wr.Write(_step);
                foreach (var (t, rows) in Tensors())
                    foreach (float v in t.AsSpan(0, rows * _d)) wr.Write(v);
                foreach (ulong s in _rng.GetState()) wr.Write(s);
            }
            return ms.ToArray();
        }
    }

    public void LoadState(byte[] state)
    {
        ArgumentNullException.ThrowIfNull(state);
        const string what = "fused TransCF state";
        lock (_gate)
        {
            using var rd = new BinaryReader(new MemoryStream(state));
            try
            {
                if (rd.ReadString() != Magic) throw new DataFormatException(what, 0, "not a fused TransCF state (bad header).");
                int version = rd.ReadInt32();
                if (version != Version) throw new DataFormatException(what, 0, $"unsupported version {version}.");
                string shape = rd.ReadString();
                if (shape != Shape) throw new DataFormatException(what, 0, $"state of {shape} does not fit this model ({Shape}).");
                long step = rd.ReadInt64();
                long need = rd.BaseStream.Position + 4L * Tensors().Sum(x => (long)x.Rows * _d) + 32;
                if (need != state.Length) throw new DataFormatException(what, 0, $"length {state.Length} bytes, expected {need}.");
                foreach (var (t, rows) in Tensors())
                    for (int j = 0; j < rows * _d; j++) t[j] = rd.ReadSingle();
                _rng.SetState([rd.ReadUInt64(), rd.ReadUInt64(), rd.ReadUInt64(), rd.ReadUInt64()]);
                _step = step;
                _version++;
            }
            catch (EndOfStreamException) { throw new DataFormatException(what, 0, "truncated state."); }
        }
    }

    public bool ParametersAreFinite()
    {
        lock (_gate) return AllFinite(_p) && AllFinite(_q);
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
            if (!ParametersAreFinite()) return double.NaN;
            return Math.Max(T.MaxMagnitude<float>(_p), T.MaxMagnitude<float>(_q));
        }
    }

    public IReadOnlyDictionary<string, object?> Describe()
    {
        var d = ConfigBinder.ToJson(_c).ToDictionary(kv => kv.Key, kv => (object?)kv.Value?.ToString());
        d["Model"] = Name; d["Engine"] = "fused"; d["NumUsers"] = _users; d["NumItems"] = _items;
        d["DType"] = "Float32"; d["Device"] = "cpu"; d["Threads"] = _pool.Threads; d["ChunkSize"] = Chunk; d["Step"] = _step;
        d["Loss"] = "sum of hinge + λ_dist·Σs(u,i⁺) + λ_nbr·Σneighbourhood, per triple";
        d["OptimizerSemantics"] = _c.Optimizer == OptimizerKind.LazyAdam
            ? "LazyAdam: SparseAdam formula (global t) on the rows with a gradient this step — the batch's users and items and the neighbours their means averaged; the others keep their moments and values (fused engine only)"
            : $"{_c.Optimizer}: dense, as the TorchSharp model (every row's state is swept each step)";
        return d;
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _scorer?.Dispose();
        _pool.Dispose();
    }
}
