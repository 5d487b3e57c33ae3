using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.InteropServices;
using Lrml.Data;
using static Lrml.Fast.FusedMath;

using Lrml.Models;

using Lrml.Util;

namespace Lrml.Fast;

/// <summary>
/// LRML (Tay, Luu, Hui, WWW 2018) on the CPU with a hand-written, fused forward and backward pass in
/// System.Numerics SIMD: no autograd graph, no per-step allocation, one pass per example over the
/// memory (keys K, slices M), and an optimiser that updates only what a batch touched when the
/// semantics allow it. It implements the whole <see cref="LrmlConfig"/> (three distances, reused or
/// recomputed negative relation, clip / project / no norm constraint, k negatives per positive, L2,
/// per-tensor gradient clipping, frozen memory, the memory's own init scale and learning rate, the attention
/// temperature and WARP rank weighting) and starts from <see cref="LrmlParameters"/>, so a seed
/// gives the same initial weights as the TorchSharp engine.
/// <para>
/// Optimisers (<see cref="LrmlConfig.Optimizer"/>):
/// <list type="bullet">
/// <item><b>LazyAdam</b> (the fast choice for this engine): P and Q rows that appear in the batch — and only
/// those — get a moment and value update with their summed gradient (rows hit several times are summed
/// first), PyTorch SparseAdam / TF LazyAdam formula θ −= lr·√(1−β₂ᵗ)/(1−β₁ᵗ) · m / (√v + ε) with the
/// global step t. Rows appearing with a zero gradient (inactive hinge) still count as touched, as in
/// SparseAdam. K and M are small dense tensors and always get a full (PyTorch Adam) update. L2 under
/// LazyAdam applies to the touched rows only (plus K and M), and the reported loss uses the same scope.</item>
/// <item><b>Adam</b>: exact dense PyTorch Adam (β = 0.9/0.999, ε = 1e-8, ε added to √v̂): every row's moments
/// decay and every row moves every step; L2 over whole tensors. O(|U|+|I|)·d per step.</item>
/// <item><b>Sgd</b>, <b>Adagrad</b> (PyTorch: initial accumulator 0, ε = 1e-10): rows with a zero gradient do not
/// change under these rules, so they run row-sparse and are still exact; with L2 &gt; 0 they sweep the whole
/// tables (the L2 gradient is dense).</item>
/// </list>
/// </para>
/// <para>
/// Threads: one training step splits its batch into fixed chunks of <see cref="FusedOptions.ChunkSize"/>
/// examples; each example writes its own gradient rows and each chunk its own K/M gradient; rows are then
/// reduced over their occurrences in batch order and chunks in index order. Results are therefore
/// bit-identical for a given machine whatever the thread count (and run to run), and the same on x64 machines with
/// AVX2 and with AVX-512 for rows of at most 128 floats: the engine's own sums are on Vector&lt;T&gt;, 8 floats on both at
/// the runtime's default width, and FusedMath's norms keep the 512-bit order on both. Another width (ARM NEON, or
/// 512-bit Vector&lt;T&gt;) changes the last bits.
/// </para>
/// </summary>
public sealed unsafe partial class LrmlFused : ITrainableRecommender, IRelationalModel, IPhaseTimed
{
    internal const float Beta1 = 0.9f, Beta2 = 0.999f, AdamEps = 1e-8f, AdagradEps = 1e-10f;

    private readonly LrmlConfig _cfg;
    private readonly FusedOptions _opt;
    private readonly int _users, _items, _d, _dp, _n, _np;
    private readonly WorkerPool _pool;

    // Parameters, rows padded to _dp with zeros. K is stored transposed (N × dp) so logits are dot products.
    private readonly float[] _p, _q, _kt, _m;
    // Optimiser state: Adam/LazyAdam first and second moments; Adagrad uses the *2 arrays as its sum.
    private readonly float[]? _p1, _p2, _q1, _q2, _kt1, _kt2, _m1, _m2;
    private long _step;
    private int _version;
    private bool _disposed;
    // 1/τ of the attention (1 = the authors' logits s·K); WARP sampling and weights when configured
    private readonly float _invTemperature;
    private readonly LrmlWarp? _warp;

    /// <summary>
    /// Builds the engine from initial parameters (copied, never aliased).
    /// </summary>
    /// <param name="config">Model definition; validated.</param>
    /// <param name="initial">Initial weights, e.g. <see cref="LrmlParameters.Initialize"/>.</param>
    /// <param name="options">Threads and engine switches; null = defaults (1 thread).</param>
    /// <param name="positives">The training interactions; required for WARP rank weighting (its negatives are drawn among
    /// the items a user has not interacted with).</param>
    /// <param name="seed">Seed of WARP's sampling stream "lrml.warp" (the run seed).</param>
    public LrmlFused(LrmlConfig config, LrmlParameters initial, FusedOptions? options = null, Lrml.Protocols.UserItems? positives = null, long seed = 1)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(initial);
        config.Validate();
        _opt = options ?? new FusedOptions();
        _opt.Validate();
        if (initial.Dim != config.Dim || initial.Slots != config.Slots)
            throw new ArgumentException($"Parameters are {initial.Dim}×{initial.Slots} (d×N) but the config says {config.Dim}×{config.Slots}.");
        _cfg = config;
        _users = initial.NumUsers; _items = initial.NumItems; _d = config.Dim; _n = config.Slots;
        if (_users < 1 || _items < 1) throw new ArgumentException("LRML needs at least one user and one item.");
        _invTemperature = config.AttentionTemperature == 1f ? 1f : 1f / config.AttentionTemperature;
        if (config.RankWeighting == LrmlRankWeighting.Warp)
        {
            if (positives is null) throw new ArgumentException("WARP rank weighting samples negatives the user has not interacted with: pass the training positives.");
            _warp = new LrmlWarp(positives, _users, _items, config.WarpNegatives, seed);
        }
        _dp = Pad(_d); _np = Pad(_n);
        if ((long)_users * _dp > Array.MaxLength || (long)_items * _dp > Array.MaxLength)
            throw new ArgumentException($"Tables of {_users:N0} users / {_items:N0} items × {_dp} floats exceed one .NET array.");
        _p = LargeArrays.Floats((long)_users * _dp); _q = LargeArrays.Floats((long)_items * _dp);
        _kt = new float[_n * _dp]; _m = new float[_n * _dp];
        ImportParameters(initial);
        if (config.NormConstraint == NormConstraint.Project)
        {
            // like the TorchSharp reference: every stored row starts inside the unit ball
            ProjectAllRows(_p, _users);
            ProjectAllRows(_q, _items);
        }
        var opt = config.Optimizer;
        if (opt is OptimizerKind.Adam or OptimizerKind.LazyAdam)
        {
            _p1 = LargeArrays.Floats(_p.Length); _q1 = LargeArrays.Floats(_q.Length); _kt1 = new float[_kt.Length]; _m1 = new float[_m.Length];
        }
        if (opt is OptimizerKind.Adam or OptimizerKind.LazyAdam or OptimizerKind.Adagrad)
        {
            _p2 = LargeArrays.Floats(_p.Length); _q2 = LargeArrays.Floats(_q.Length); _kt2 = new float[_kt.Length]; _m2 = new float[_m.Length];
        }
        bool bigTables = EmbeddingEngine.AdamTablesExceedReplaySize((long)(_users + _items) * _dp);
        ZeroGradientShortcut = bigTables;
        _pool = new WorkerPool(_opt.EffectiveThreads);
        _stepWork = new StepWork(this);
        _scoreWork = new ScoreWork(this);
        _userSlot = new int[_users]; Array.Fill(_userSlot, -1);
        _itemSlot = new int[_items]; Array.Fill(_itemSlot, -1);
        _scratch = new Scratch[_pool.Threads];
        ReplayUnreadRows = CanReplay && bigTables;
    }

    private void ProjectAllRows(float[] table, int rows)
    {
        for (int r = 0; r < rows; r++)
        {
            var row = table.AsSpan(r * _dp, _d);
            float norm = Norm(row);   // FusedMath's: TensorPrimitives' 512-bit order on AVX2 machines too
            if (norm > 1f) System.Numerics.Tensors.TensorPrimitives.Divide(row, norm, row);
        }
    }

    /// <summary>Convenience: initial weights from <see cref="LrmlParameters.Initialize"/> with <paramref name="seed"/>
    /// (<paramref name="positives"/>: the training interactions, for WARP rank weighting).</summary>
    public static LrmlFused Create(LrmlConfig config, int numUsers, int numItems, long seed, FusedOptions? options = null,
        Lrml.Protocols.UserItems? positives = null) =>
        new(config, LrmlParameters.Initialize(config, numUsers, numItems, seed), options, positives, seed);

    /// <inheritdoc/>
    public string Name => "LRML";
    /// <inheritdoc/>
    public int NumUsers => _users;
    /// <inheritdoc/>
    public int NumItems => _items;
    /// <inheritdoc/>
    public int Slots => _n;
    /// <inheritdoc/>
    public int Dim => _d;
    /// <summary>The model definition.</summary>
    public LrmlConfig Config => _cfg;
    /// <summary>The engine options.</summary>
    public FusedOptions Options => _opt;
    /// <summary>Effective worker thread count.</summary>
    public int Threads => _pool.Threads;
    /// <summary>Optimiser steps taken (the t of Adam's bias correction).</summary>
    public long StepCount => _step;

    /// <summary>One-line statement of the optimiser semantics in use (also in <see cref="Describe"/>).</summary>
    public string OptimizerSemantics => _cfg.Optimizer switch
    {
        OptimizerKind.LazyAdam => "LazyAdam: row-sparse Adam on P and Q (only rows in the batch; moments and values; summed duplicate-row gradients; SparseAdam/TF-LazyAdam formula with global step t); dense PyTorch Adam on K and M; L2 on touched rows, K and M",
        OptimizerKind.Adam => _atU is null
            ? "Adam: exact dense PyTorch Adam on every tensor (all rows decay and move each step: P and Q are swept); L2 on whole tensors"
            : "Adam: exact dense PyTorch Adam on every tensor (all rows decay and move each step; a row of P or Q a step does not read replays that step when next read, with the same bits); L2 off",
        OptimizerKind.Sgd => UsesDenseSweep ? "SGD: whole tensors (dense L2 gradient)" : "SGD: row-sparse, exact (zero-gradient rows do not move)",
        OptimizerKind.Adagrad => UsesDenseSweep ? "Adagrad (PyTorch, accumulator 0, eps 1e-10): whole tensors (dense L2 gradient)" : "Adagrad (PyTorch, accumulator 0, eps 1e-10): row-sparse, exact (zero-gradient rows do not change)",
        _ => throw new InvalidOperationException(),
    };

    /// <summary>True when a step sweeps the whole P and Q tables (dense Adam, or SGD/Adagrad with L2).</summary>
    private bool UsesDenseSweep => _cfg.Optimizer == OptimizerKind.Adam ||
        (_cfg.L2 > 0 && _cfg.Optimizer is OptimizerKind.Sgd or OptimizerKind.Adagrad);

    /// <inheritdoc/>
    public IReadOnlyDictionary<string, object?> Describe() => new Dictionary<string, object?>
    {
        ["Model"] = "LRML",
        ["Engine"] = "fused",
        ["Dim"] = _cfg.Dim,
        ["Slots"] = _cfg.Slots,
        ["Margin"] = _cfg.Margin,
        ["Distance"] = _cfg.Distance.ToString(),
        ["NegativeRelation"] = _cfg.NegativeRelation.ToString(),
        ["NormConstraint"] = _cfg.NormConstraint.ToString(),
        ["InitScale"] = _cfg.InitScale,
        ["L2"] = _cfg.L2,
        ["GradClipValue"] = _cfg.GradClipValue,
        ["GradClipNorm"] = _cfg.GradClipNorm,
        ["TrainMemory"] = _cfg.TrainMemory,
        ["LearningRate"] = _cfg.LearningRate,
        ["Optimizer"] = _cfg.Optimizer.ToString(),
        ["DistanceEpsilon"] = _cfg.DistanceEpsilon,
        ["MemoryInitScale"] = _cfg.EffectiveMemoryInitScale,
        ["AttentionTemperature"] = _cfg.AttentionTemperature,
        ["MemoryLearningRate"] = _cfg.EffectiveMemoryLearningRate,
        ["RankWeighting"] = _cfg.RankWeighting.ToString(),
        ["WarpNegatives"] = _cfg.WarpNegatives,
        ["NumUsers"] = _users,
        ["NumItems"] = _items,
        ["DType"] = "Float32",
        ["Device"] = "cpu",
        ["OptimizerSemantics"] = OptimizerSemantics,
        ["AdamBeta1"] = (double)Beta1,
        ["AdamBeta2"] = (double)Beta2,
        ["AdamEpsilon"] = (double)AdamEps,
        ["AdagradEpsilon"] = (double)AdagradEps,
        ["L2Scope"] = _cfg.L2 <= 0 ? "off" : _cfg.Optimizer == OptimizerKind.LazyAdam ? "touched rows of P, Q + trainable K, M" : "whole trainable tensors",
        ["GradClip"] = "per tensor: clamp to ±GradClipValue, then g·c/max(‖g‖, c) (TF clip_by_norm) with c = GradClipNorm",
        ["ClipScope"] = _cfg.NormConstraint == NormConstraint.Clip ? "x / max(‖x‖, 1) in the graph; clipped p, q used in key, translation and distance (training and scoring)" : "none",
        ["ProjectScope"] = _cfg.NormConstraint == NormConstraint.Project ? "every stored row divided by max(‖x‖, 1) at construction, then the rows touched by a step after it" : "none",
        ["LossReduction"] = "sum over positives and their negatives",
        ["Threads"] = Threads,
        ["ChunkSize"] = _opt.ChunkSize,
        ["SimdFloats"] = Vector<float>.Count,
        ["BitExact"] = "same result for any thread count, and on x64 machines with AVX2 or AVX-512 alike (rows of at most 128 floats, default vector width); another vector width changes the last bits",
        ["Step"] = _step,
    };

    // ---------------------------------------------------------------- parameters

    private void ImportParameters(LrmlParameters src)
    {
        for (int u = 0; u < _users; u++) src.P.AsSpan(u * _d, _d).CopyTo(_p.AsSpan(u * _dp, _d));
        for (int i = 0; i < _items; i++) src.Q.AsSpan(i * _d, _d).CopyTo(_q.AsSpan(i * _dp, _d));
        for (int j = 0; j < _d; j++)
            for (int x = 0; x < _n; x++) _kt[x * _dp + j] = src.K[j * _n + x];
        for (int x = 0; x < _n; x++) src.M.AsSpan(x * _d, _d).CopyTo(_m.AsSpan(x * _dp, _d));
        _version++;
    }

    /// <inheritdoc/>
    public bool ParametersAreFinite()
    {
        lock (_gate)
        {
            CatchUpAll();
            foreach (var (t, rows, isK) in StateTensors())
            {
                if (isK) { foreach (float v in KtToK(t)) if (!float.IsFinite(v)) return false; continue; }
                for (int r = 0; r < rows; r++)
                    foreach (float v in t.AsSpan(r * _dp, _d)) if (!float.IsFinite(v)) return false;
            }
            return true;
        }
    }

    /// <inheritdoc/>
    public double MaxAbsParameter()
    {
        lock (_gate)
        {
            CatchUpAll();
            float max = 0;
            foreach (var (t, rows, _) in StateTensors().Take(4))          // P, Q, Kᵀ, M (not the optimiser moments); rows of _d in _dp
            {
                for (int r = 0; r < rows; r++)
                    foreach (float v in t.AsSpan(r * _dp, _d))
                    {
                        if (float.IsNaN(v)) return double.NaN;
                        max = Math.Max(max, Math.Abs(v));
                    }
            }
            return max;
        }
    }

    /// <inheritdoc/>
    public LrmlParameters ExportParameters()
    {
        lock (_gate)
        {
            CatchUpAll();
            return Export();
        }
    }

    private LrmlParameters Export()
    {
        var p = Unpad(_p, _users); var q = Unpad(_q, _items);
        var k = KtToK(_kt); var m = Unpad(_m, _n);
        return new LrmlParameters(_users, _items, _d, _n, p, q, k, m);
    }

    /// <summary>Replaces the parameters (optimiser state and step count are kept).</summary>
    public void SetParameters(LrmlParameters parameters)
    {
        if (parameters.NumUsers != _users || parameters.NumItems != _items || parameters.Dim != _d || parameters.Slots != _n)
            throw new ArgumentException("Parameters have a different shape from this model.");
        lock (_gate)
        {
            CatchUpAll();   // the moments stay: bring them to the current step first
            ImportParameters(parameters);
        }
    }

    private float[] Unpad(float[] src, int rows)
    {
        var dst = new float[(long)rows * _d];
        for (int r = 0; r < rows; r++) src.AsSpan(r * _dp, _d).CopyTo(dst.AsSpan(r * _d, _d));
        return dst;
    }

    private float[] KtToK(float[] kt)
    {
        var k = new float[_d * _n];
        for (int j = 0; j < _d; j++)
            for (int x = 0; x < _n; x++) k[j * _n + x] = kt[x * _dp + j];
        return k;
    }

    private void KToKt(ReadOnlySpan<float> k, float[] kt)
    {
        for (int j = 0; j < _d; j++)
            for (int x = 0; x < _n; x++) kt[x * _dp + j] = k[j * _n + x];
    }

    // ---------------------------------------------------------------- state

    private static ReadOnlySpan<byte> Magic => "LRMLFUS1"u8;

    /// <summary>
    /// Parameters, optimiser state and step count as bytes (little-endian, unpadded rows, K as d×N): a
    /// <see cref="LoadState"/> on a model of the same configuration and shape continues bit-identically.
    /// </summary>
    /// <remarks>With WARP weighting the sampler's random state follows (32 bytes), so a restored model draws the same negatives.</remarks>
    public byte[] SaveState()
    {
        lock (_gate)
        {
            CatchUpAll();
            return _warp is null ? Save() : TorchSupport.WithRngState(Save(), _warp.Rng);
        }
    }

    private byte[] Save()
    {
        var tensors = StateTensors();
        long size = Magic.Length + 4 * 6 + 8;
        foreach (var (_, rows, isK) in tensors) size += 4L * (isK ? _d * _n : (long)rows * _d);
        if (size > Array.MaxLength) throw new InvalidOperationException("Model state exceeds the 2 GB byte-array limit of SaveState.");
        var buf = new byte[size];
        var span = buf.AsSpan();
        Magic.CopyTo(span); int o = Magic.Length;
        foreach (int v in new[] { 1, _users, _items, _d, _n, (int)_cfg.Optimizer }) { BinaryPrimitives.WriteInt32LittleEndian(span[o..], v); o += 4; }
        BinaryPrimitives.WriteInt64LittleEndian(span[o..], _step); o += 8;
        foreach (var (t, rows, isK) in tensors)
        {
            if (isK) { o = WriteFloats(span, o, KtToK(t)); continue; }
            for (int r = 0; r < rows; r++) o = WriteFloats(span, o, t.AsSpan(r * _dp, _d));
        }
        return buf;
    }

    /// <summary>Restores <see cref="SaveState"/> output; throws <see cref="DataFormatException"/> when the bytes
    /// are not a fused-LRML state of this shape and optimiser.</summary>
    public void LoadState(byte[] state)
    {
        lock (_gate)
        {
            if (_warp is null) { Load(state); return; }
            ulong[] rng;
            try { state = TorchSupport.WithoutRngState(state, "no WARP sampler state", out rng); }
            catch (InvalidDataException e) { throw new DataFormatException("fused LRML state", 0, e.Message + "."); }
            Load(state);
            _warp.Rng.SetState(rng);
        }
    }

    private void Load(byte[] state)
    {
        const string what = "fused LRML state";
        ArgumentNullException.ThrowIfNull(state);
        var span = state.AsSpan();
        if (span.Length < Magic.Length + 32 || !span[..Magic.Length].SequenceEqual(Magic))
            throw new DataFormatException(what, 0, "not a fused LRML state (bad header).");
        int o = Magic.Length;
        var head = new int[6];
        for (int x = 0; x < 6; x++, o += 4) head[x] = BinaryPrimitives.ReadInt32LittleEndian(span[o..]);
        int version = head[0], users = head[1], items = head[2], d = head[3], n = head[4], opt = head[5];
        if (version != 1) throw new DataFormatException(what, 0, $"unsupported version {version}.");
        if (users != _users || items != _items || d != _d || n != _n)
            throw new DataFormatException(what, 0, $"shape {users}×{items}, d={d}, N={n} differs from this model's {_users}×{_items}, d={_d}, N={_n}.");
        if (opt != (int)_cfg.Optimizer)
            throw new DataFormatException(what, 0, $"optimiser {(OptimizerKind)opt} differs from this model's {_cfg.Optimizer}.");
        long step = BinaryPrimitives.ReadInt64LittleEndian(span[o..]); o += 8;
        var tensors = StateTensors();
        long need = o;
        foreach (var (_, rows, isK) in tensors) need += 4L * (isK ? _d * _n : (long)rows * _d);
        if (need != span.Length) throw new DataFormatException(what, 0, $"length {span.Length} bytes, expected {need}.");
        var kbuf = new float[_d * _n];
        foreach (var (t, rows, isK) in tensors)
        {
            if (isK) { o = ReadFloats(span, o, kbuf); KToKt(kbuf, t); continue; }
            for (int r = 0; r < rows; r++) o = ReadFloats(span, o, t.AsSpan(r * _dp, _d));
        }
        _step = step;
        ResetOwedSteps();
        _version++;
    }

    private List<(float[] Tensor, int Rows, bool IsK)> StateTensors()
    {
        var list = new List<(float[], int, bool)> { (_p, _users, false), (_q, _items, false), (_kt, _n, true), (_m, _n, false) };
        if (_p1 is not null) list.AddRange(new[] { (_p1, _users, false), (_q1!, _items, false), (_kt1!, _n, true), (_m1!, _n, false) });
        if (_p2 is not null) list.AddRange(new[] { (_p2, _users, false), (_q2!, _items, false), (_kt2!, _n, true), (_m2!, _n, false) });
        return list;
    }

    private static int WriteFloats(Span<byte> dst, int o, ReadOnlySpan<float> src)
    {
        var bytes = MemoryMarshal.AsBytes(src);
        if (BitConverter.IsLittleEndian) bytes.CopyTo(dst[o..]);
        else for (int x = 0; x < src.Length; x++) BinaryPrimitives.WriteSingleLittleEndian(dst[(o + 4 * x)..], src[x]);
        return o + bytes.Length;
    }

    private static int ReadFloats(ReadOnlySpan<byte> src, int o, Span<float> dst)
    {
        int len = dst.Length * 4;
        if (BitConverter.IsLittleEndian) src.Slice(o, len).CopyTo(MemoryMarshal.AsBytes(dst));
        else for (int x = 0; x < dst.Length; x++) dst[x] = BinaryPrimitives.ReadSingleLittleEndian(src[(o + 4 * x)..]);
        return o + len;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _pool.Dispose();
    }
}
