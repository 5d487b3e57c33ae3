using Lrml.Util;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Lrml.Models;

/// <summary>
/// Small TorchSharp helpers shared by the reference models (LRML, CML, BPR-MF): tensor ↔ array copies,
/// the in-graph norm clip, the stored-row projection and per-tensor gradient clipping. Every function
/// states its formula, because the fused CPU engine reproduces them.
/// </summary>
internal static class TorchSupport
{
    /// <summary>Checks that a model dtype is supported (float32 default, float64 for gradient tests).</summary>
    public static ScalarType CheckDType(ScalarType dtype) =>
        dtype is ScalarType.Float32 or ScalarType.Float64
            ? dtype
            : throw new ArgumentException($"Only Float32 and Float64 are supported (got {dtype}).", nameof(dtype));

    /// <summary>
    /// A parameter of the given shape, dtype and device holding a copy of <paramref name="data"/>. It is
    /// detached from any ambient dispose scope: the owning module disposes it.
    /// </summary>
    public static Parameter MakeParameter(float[] data, long[] shape, ScalarType dtype, Device device, bool requiresGrad)
    {
        using var scope = NewDisposeScope();
        var t = torch.tensor(data, shape).to(dtype, device);
        var p = new Parameter(t, requiresGrad);
        p.DetachFromDisposeScope();
        return p;
    }

    /// <summary><paramref name="count"/> values drawn from N(0, <paramref name="std"/>²) by the <see cref="Rng"/> stream
    /// (<paramref name="seed"/>, <paramref name="stream"/>), rounded to float32 — the embedding initialisation of CML, BPR-MF,
    /// TransCF and the NCF models (each names its own σ and stream).</summary>
    public static float[] GaussianInit(long count, double std, long seed, string stream)
    {
        var a = new float[count];
        var rng = new Rng(seed, stream);
        for (long x = 0; x < count; x++) a[x] = (float)(rng.NextGaussian() * std);
        return a;
    }

    /// <summary>An int64 index tensor holding a copy of <paramref name="ids"/>.</summary>
    public static Tensor Index(ReadOnlySpan<int> ids, Device device)
    {
        var a = new long[ids.Length];
        for (int k = 0; k < a.Length; k++) a[k] = ids[k];
        return torch.tensor(a, device: device);
    }

    /// <summary>An int64 index tensor over <paramref name="ids"/> (copied).</summary>
    public static Tensor Index(long[] ids, Device device) => torch.tensor(ids, device: device);

    /// <summary>Copies a tensor's values (any float dtype, any device) into <paramref name="dst"/> as float32.</summary>
    public static void CopyTo(Tensor t, Span<float> dst)
    {
        using var scope = NewDisposeScope();
        var c = t.detach().to(ScalarType.Float32, CPU).contiguous();
        if (c.numel() != dst.Length)
            throw new ArgumentException($"Destination holds {dst.Length} values but the tensor has {c.numel()}.");
        c.data<float>().CopyTo(dst, 0, 0);
    }

    /// <summary>A tensor's values as a new float array (row-major).</summary>
    public static float[] ToFloats(Tensor t)
    {
        var a = new float[t.numel()];
        CopyTo(t, a);
        return a;
    }

    /// <summary>A tensor's values as a new double array (row-major).</summary>
    public static double[] ToDoubles(Tensor t)
    {
        using var scope = NewDisposeScope();
        return t.detach().to(ScalarType.Float64, CPU).contiguous().data<double>().ToArray();
    }

    /// <summary>A scalar tensor's value as double.</summary>
    public static double Scalar(Tensor t)
    {
        using var scope = NewDisposeScope();
        return t.detach().to(ScalarType.Float64, CPU).item<double>();
    }

    /// <summary>
    /// Row-wise norm clip inside the autograd graph (TF <c>clip_by_norm(x, 1, axes=[1])</c>):
    /// x / sqrt(max(1, ‖x‖²)), i.e. x·min(1, 1/‖x‖). Gradients flow through the scaling when ‖x‖ &gt; 1;
    /// rows inside the unit ball pass unchanged (the clamp keeps the gradient finite at x = 0).
    /// </summary>
    public static Tensor ClipRows(Tensor x) => x / x.Squared().sum(-1, keepdim: true).clamp_min(KeptScalars.OneD).sqrt();

    /// <summary>
    /// Projects the given stored rows of <paramref name="table"/> onto the unit ball in place
    /// (row ← row / sqrt(max(1, ‖row‖²))), vectorised with index_select / index_copy_. <paramref name="rows"/>
    /// must not contain duplicates.
    /// </summary>
    public static void ProjectRows(Tensor table, Tensor rows)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var r = table.index_select(0, rows);
        table.index_copy_(0, rows, ClipRows(r));
    }

    /// <summary>Whether every parameter of <paramref name="module"/> is finite (one reduction per tensor).</summary>
    public static bool AllFinite(nn.Module module)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        foreach (var p in module.parameters())
            if (!torch.isfinite(p).all().item<bool>()) return false;
        return true;
    }

    /// <summary>The largest absolute value over every parameter of <paramref name="module"/> (one reduction per tensor):
    /// NaN when any value is NaN, +∞ when one is infinite.</summary>
    public static double MaxAbs(nn.Module module)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        double max = 0;
        foreach (var p in module.parameters())
        {
            if (p.numel() == 0) continue;
            double m = p.abs().max().to_type(ScalarType.Float64).item<double>();
            if (double.IsNaN(m)) return double.NaN;
            max = Math.Max(max, m);
        }
        return max;
    }

    /// <summary>Projects every row of <paramref name="table"/> onto the unit ball in place.</summary>
    public static void ProjectAllRows(Tensor table)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        table.copy_(ClipRows(table));
    }

    /// <summary>
    /// Per-tensor gradient clip, in place: first every value is clamped to ±<paramref name="value"/>
    /// (when &gt; 0), then the whole tensor is rescaled by norm / max(‖g‖₂, norm) (when <paramref name="norm"/> &gt; 0;
    /// TF <c>clip_by_norm</c>). For a row-sparse gradient the norm is taken over the touched rows, which equals
    /// the dense norm because every other row is zero.
    /// </summary>
    public static void ClipGradient(Tensor grad, double value, double norm)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        if (value > 0)
        {
            using Scalar lo = (-value).ToScalar(), hi = value.ToScalar();
            grad.clamp_(lo, hi);
        }
        if (norm > 0)
        {
            using var s = norm.ToScalar();
            var n = grad.Squared().sum().sqrt();
            grad.mul_(n.clamp_min(s).reciprocal().mul_(s));
        }
    }

    /// <summary>Pairs scored per chunk by <see cref="ScorePairsChunked"/> unless a model passes its own.</summary>
    public const int PairChunk = 1 << 15;

    /// <summary>
    /// The pair-scoring loop of every reference model: checks that <paramref name="users"/>, <paramref name="items"/> and
    /// <paramref name="scores"/> have equal length and every index is in range, then, without gradients and in chunks of
    /// <paramref name="chunk"/> pairs (one dispose scope each), writes <paramref name="score"/>(userIdx, itemIdx) — the
    /// chunk's scores, one per pair — into <paramref name="scores"/>.
    /// </summary>
    public static void ScorePairsChunked(ReadOnlySpan<int> users, ReadOnlySpan<int> items, Span<float> scores, int numUsers, int numItems,
        Device device, Func<Tensor, Tensor, Tensor> score, int chunk = PairChunk)
    {
        if (users.Length != items.Length || scores.Length != users.Length)
            throw new ArgumentException($"users ({users.Length}), items ({items.Length}) and scores ({scores.Length}) must have equal length.");
        CheckRange(users, numUsers, "user");
        CheckRange(items, numItems, "item");
        using var noGrad = no_grad();
        for (int start = 0; start < users.Length; start += chunk)
        {
            int len = Math.Min(chunk, users.Length - start);
            using var scope = NewDisposeScope();
            CopyTo(score(Index(users.Slice(start, len), device), Index(items.Slice(start, len), device)), scores.Slice(start, len));
        }
    }

    /// <summary>Fills users × NumItems scores chunk by chunk; <paramref name="block"/>(userIdx, firstItem, count)
    /// returns the (users_chunk × count) score block. Chunks hold users_chunk × items_chunk × d values at most
    /// <paramref name="budget"/> (<paramref name="dim"/> = values per pair).</summary>
    public static void ScoreAllChunked(ReadOnlySpan<int> users, Span<float> scores, int numUsers, int numItems, int dim, long budget, Device device,
        Func<Tensor, int, int, Tensor> block)
    {
        if (scores.Length != (long)users.Length * numItems)
            throw new ArgumentException($"scores must hold users.Length × NumItems = {(long)users.Length * numItems} values (got {scores.Length}).");
        TorchSupport.CheckRange(users, numUsers, "user");
        long pairBudget = Math.Max(1, budget / Math.Max(1, dim));
        int uc = (int)Math.Clamp(pairBudget, 1, Math.Max(1, users.Length));
        int ic = (int)Math.Clamp(pairBudget / uc, 1, numItems);
        var chunk = new float[(long)uc * ic];
        using var noGrad = no_grad();
        for (int u0 = 0; u0 < users.Length; u0 += uc)
        {
            int un = Math.Min(uc, users.Length - u0);
            using var userScope = NewDisposeScope();
            var uIdx = TorchSupport.Index(users.Slice(u0, un), device);
            for (int i0 = 0; i0 < numItems; i0 += ic)
            {
                int inum = Math.Min(ic, numItems - i0);
                using var itemScope = NewDisposeScope();
                var buf = chunk.AsSpan(0, un * inum);
                TorchSupport.CopyTo(block(uIdx, i0, inum), buf);
                for (int a = 0; a < un; a++)
                    buf.Slice(a * inum, inum).CopyTo(scores.Slice((u0 + a) * numItems + i0, inum));
            }
        }
    }

    /// <summary>−max(0, ‖p‖² + ‖q‖² + x·yᵀ) for a users × items block (<paramref name="userSq"/>: users, <paramref name="itemSq"/>:
    /// items): with x = −2p, y = q the negated squared distance as one matrix product, no users × items × d tensor.</summary>
    public static Tensor NegSquaredDistances(Tensor userSq, Tensor x, Tensor itemSq, Tensor y) =>
        userSq.unsqueeze(1).Plus(itemSq.unsqueeze(0)).Plus(x.matmul(y.t())).clamp_min(KeptScalars.Zero).neg();

    /// <summary>
    /// The state framing of every reference model: <paramref name="writeHeader"/> (magic, version, shapes — the model's
    /// own), then the module's state dict (TorchSharp format) and the optimiser state.
    /// </summary>
    public static byte[] SaveState(nn.Module net, ModelOptimizer optimizer, Action<BinaryWriter> writeHeader)
    {
        using var ms = new MemoryStream();
        using (var w = new BinaryWriter(ms, System.Text.Encoding.UTF8, leaveOpen: true))
        {
            writeHeader(w);
            net.save(w);
            optimizer.Save(w);
        }
        return ms.ToArray();
    }

    /// <summary>Restores a state written by <see cref="SaveState"/>: <paramref name="checkHeader"/> reads and checks the
    /// header (throwing <see cref="InvalidDataException"/> on a mismatch), then the state dict and the optimiser state.</summary>
    public static void LoadState(byte[] state, nn.Module net, ModelOptimizer optimizer, Action<BinaryReader> checkHeader)
    {
        ArgumentNullException.ThrowIfNull(state);
        using var ms = new MemoryStream(state, writable: false);
        using var r = new BinaryReader(ms);
        checkHeader(r);
        net.load(r);
        optimizer.Load(r);
    }

    /// <summary>Bytes of an <see cref="Rng"/> state (four 64-bit words) appended by <see cref="WithRngState"/>.</summary>
    private const int RngStateBytes = 32;

    /// <summary>A model state followed by the 32-byte state of a sampler's <see cref="Rng"/>, so a restored model draws
    /// the same random numbers.</summary>
    public static byte[] WithRngState(byte[] state, Rng rng)
    {
        var words = rng.GetState();
        var all = new byte[state.Length + RngStateBytes];
        state.CopyTo(all, 0);
        for (int x = 0; x < words.Length; x++) BitConverter.TryWriteBytes(all.AsSpan(state.Length + 8 * x), words[x]);
        return all;
    }

    /// <summary>Splits a state written by <see cref="WithRngState"/> into the model state and the <see cref="Rng"/> state
    /// (<see cref="InvalidDataException"/> with <paramref name="tooShort"/> when it cannot hold one). The caller restores the
    /// Rng only after the model state loaded, so a rejected state changes nothing.</summary>
    public static byte[] WithoutRngState(byte[] state, string tooShort, out ulong[] rngState)
    {
        ArgumentNullException.ThrowIfNull(state);
        if (state.Length < RngStateBytes) throw new InvalidDataException(tooShort);
        rngState = new ulong[RngStateBytes / 8];
        for (int x = 0; x < rngState.Length; x++) rngState[x] = BitConverter.ToUInt64(state, state.Length - RngStateBytes + 8 * x);
        return state[..^RngStateBytes];
    }

    public static Dictionary<string, object?> DescribeConfig<TConfig>(string model, TConfig config, int numUsers, int numItems, ScalarType dtype, Device device)
    {
        var d = new Dictionary<string, object?> { ["Model"] = model, ["Engine"] = "torch" };
        foreach (var prop in typeof(TConfig).GetProperties(System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Instance))
        {
            var v = prop.GetValue(config);
            d[prop.Name] = v is Enum e ? e.ToString() : v;
        }
        d["NumUsers"] = numUsers; d["NumItems"] = numItems;
        d["DType"] = dtype.ToString(); d["Device"] = device.ToString();
        return d;
    }

    /// <summary>Checks that every index of <paramref name="ids"/> lies in [0, size).</summary>
    public static void CheckRange(ReadOnlySpan<int> ids, int size, string what)
    {
        for (int k = 0; k < ids.Length; k++)
            if ((uint)ids[k] >= (uint)size)
                throw new ArgumentOutOfRangeException(what, $"{what} index {ids[k]} at position {k} lies outside [0, {size}).");
    }

    /// <summary>Validates a training batch against the model's index spaces.</summary>
    public static void CheckBatch(TrainingBatch batch, int numUsers, int numItems)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if (batch.Count < 1 || batch.Count > batch.Capacity)
            throw new ArgumentException($"Batch count {batch.Count} must lie in [1, {batch.Capacity}].", nameof(batch));
        CheckRange(batch.Users.AsSpan(0, batch.Count), numUsers, "user");
        CheckRange(batch.Positives.AsSpan(0, batch.Count), numItems, "positive item");
        CheckRange(batch.Negatives.AsSpan(0, batch.Count * batch.NegativesPerPositive), numItems, "negative item");
    }
}

/// <summary>
/// Collects the distinct rows a batch touches (first-appearance order) and maps every batch position to its
/// row's slot, in O(batch) with a reusable marker array (no sorting, no hashing).
/// </summary>
internal sealed class RowIndexer
{
    private readonly int[] _slot;
    private readonly List<long> _unique = new();

    public RowIndexer(int size)
    {
        _slot = new int[size];
        Array.Fill(_slot, -1);
    }

    /// <summary>Adds <paramref name="ids"/>, writing each one's slot (position in the unique list) to <paramref name="inverse"/>.</summary>
    public void Add(ReadOnlySpan<int> ids, Span<long> inverse)
    {
        for (int k = 0; k < ids.Length; k++)
        {
            int id = ids[k];
            int s = _slot[id];
            if (s < 0) { s = _unique.Count; _slot[id] = s; _unique.Add(id); }
            inverse[k] = s;
        }
    }

    /// <summary>Returns the distinct rows added since the last call and resets the indexer.</summary>
    public long[] TakeUnique()
    {
        var u = _unique.ToArray();
        foreach (var id in u) _slot[id] = -1;
        _unique.Clear();
        return u;
    }
}

/// <summary>
/// Tables and indices a batch's loss reads, for the models with a user table P, an item table Q and optionally
/// per-item values B (LRML, CML, BPR-MF): the whole tables with raw batch indices (dense optimisers: gradients land in
/// each parameter's <c>.grad</c>), or leaf copies of the touched rows with slot indices (lazy Adam: the gradient is
/// row-sparse by construction). B is viewed like Q.
/// </summary>
internal sealed record BatchViews(Tensor PTable, Tensor QTable, Tensor? BTable, Tensor UserIdx, Tensor PosIdx, Tensor NegIdx,
    Tensor UniqueUsers, Tensor UniqueItems, Tensor? PRows, Tensor? QRows, Tensor? BRows)
{
    /// <summary>Each batch position's slot among the distinct users (resp. items) the batch touches, and those distinct
    /// rows in first-appearance order (positives before negatives).</summary>
    public static (long[] UserSlots, long[] PosSlots, long[] NegSlots, long[] Users, long[] Items) Slots(TrainingBatch batch,
        RowIndexer userRows, RowIndexer itemRows)
    {
        int n = batch.Count, k = batch.NegativesPerPositive;
        var invU = new long[n]; var invPos = new long[n]; var invNeg = new long[n * k];
        userRows.Add(batch.Users.AsSpan(0, n), invU);
        itemRows.Add(batch.Positives.AsSpan(0, n), invPos);
        itemRows.Add(batch.Negatives.AsSpan(0, n * k), invNeg);
        return (invU, invPos, invNeg, userRows.TakeUnique(), itemRows.TakeUnique());
    }

    /// <summary>The views of <paramref name="batch"/> over tables <paramref name="p"/>, <paramref name="q"/> and <paramref name="b"/>;
    /// with <paramref name="lazy"/> the row copies require gradients when <paramref name="backward"/>.</summary>
    public static BatchViews Of(TrainingBatch batch, Tensor p, Tensor q, Tensor? b, RowIndexer userRows, RowIndexer itemRows,
        bool lazy, bool backward, Device device)
    {
        int n = batch.Count, k = batch.NegativesPerPositive;
        var (invU, invPos, invNeg, users, items) = Slots(batch, userRows, itemRows);
        var uniqueUsers = TorchSupport.Index(users, device);
        var uniqueItems = TorchSupport.Index(items, device);
        if (!lazy)
            return new BatchViews(p, q, b, TorchSupport.Index(batch.Users.AsSpan(0, n), device), TorchSupport.Index(batch.Positives.AsSpan(0, n), device),
                TorchSupport.Index(batch.Negatives.AsSpan(0, n * k), device), uniqueUsers, uniqueItems, null, null, null);
        var pRows = p.index_select(0, uniqueUsers).detach().requires_grad_(backward);
        var qRows = q.index_select(0, uniqueItems).detach().requires_grad_(backward);
        var bRows = b is null ? null : b.index_select(0, uniqueItems).detach().requires_grad_(backward);
        return new BatchViews(pRows, qRows, bRows, TorchSupport.Index(invU, device), TorchSupport.Index(invPos, device), TorchSupport.Index(invNeg, device),
            uniqueUsers, uniqueItems, pRows, qRows, bRows);
    }

    /// <summary>Lazy-step gradients after backward: (touched rows, gradient) of P, Q and, when viewed, B in entries 0, 1, 2
    /// of an array of <paramref name="parameters"/> entries (the rest are left for the caller).</summary>
    public (Tensor? Rows, Tensor? Grad)[] LazyGradients(int parameters)
    {
        var grads = new (Tensor?, Tensor?)[parameters];
        grads[0] = (UniqueUsers, PRows!.grad);
        grads[1] = (UniqueItems, QRows!.grad);
        if (BRows is not null) grads[2] = (UniqueItems, BRows.grad);
        return grads;
    }

    /// <summary>dL/dP as a dense array after backward (zeros for untouched rows).</summary>
    public double[] DenseGradP(Tensor p) => Dense(p, UniqueUsers, PRows);
    /// <summary>dL/dQ as a dense array after backward (zeros for untouched rows).</summary>
    public double[] DenseGradQ(Tensor q) => Dense(q, UniqueItems, QRows);
    /// <summary>dL/dB as a dense array after backward (zeros for untouched rows).</summary>
    public double[] DenseGradB(Tensor b) => Dense(b, UniqueItems, BRows);

    /// <summary>The table's own gradient (dense views), or the row copies' gradient scattered into zeros (lazy views).</summary>
    private static double[] Dense(Tensor table, Tensor rows, Tensor? rowLeaf) => rowLeaf is null
        ? TorchSupport.ToDoubles(table.grad!)
        : TorchSupport.ToDoubles(zeros_like(table).index_add_(0, rows, rowLeaf.grad!, KeptScalars.OneD));
}

/// <summary>
/// Parameter container and shared plumbing of the two-table models (CML, BPR-MF, TransCF): user table "P", item
/// table "Q" and, optionally, item biases "B". Field names are the state-dict keys.
/// </summary>
internal sealed class EmbeddingNet : nn.Module
{
    public readonly Parameter P, Q;
    public readonly Parameter? B;

    /// <summary>Checks given embeddings (row-major users × d and items × d) before a model is built from them.</summary>
    public static void CheckEmbeddings(int numUsers, int numItems, int dim, float[] userEmbeddings, float[] itemEmbeddings)
    {
        if (numUsers < 1 || numItems < 1) throw new ArgumentException("A model needs at least one user and one item.");
        if (userEmbeddings.Length != (long)numUsers * dim) throw new ArgumentException("userEmbeddings has the wrong size.");
        if (itemEmbeddings.Length != (long)numItems * dim) throw new ArgumentException("itemEmbeddings has the wrong size.");
    }

    public EmbeddingNet(string name, int numUsers, int numItems, int dim, float[] p, float[] q, float[]? b, ScalarType dtype, Device device) : base(name)
    {
        P = TorchSupport.MakeParameter(p, [numUsers, dim], dtype, device, true);
        Q = TorchSupport.MakeParameter(q, [numItems, dim], dtype, device, true);
        if (b is not null) B = TorchSupport.MakeParameter(b, [numItems], dtype, device, true);
        RegisterComponents();
    }

    /// <summary>State with header (magic, version, users, items, d, bias flag, dtype, optimiser).</summary>
    public static byte[] Save(string magic, int version, EmbeddingNet net, ModelOptimizer optimizer, ScalarType dtype, int optimizerKind) =>
        TorchSupport.SaveState(net, optimizer, w =>
        {
            w.Write(magic); w.Write(version);
            w.Write(net.P.shape[0]); w.Write(net.Q.shape[0]); w.Write(net.P.shape[1]); w.Write(net.B is not null);
            w.Write((int)dtype); w.Write(optimizerKind);
        });

    /// <summary>Restores a state written by <see cref="Save"/> for the same magic, version, shapes, dtype and optimiser.</summary>
    public static void Load(byte[] state, string magic, int version, EmbeddingNet net, ModelOptimizer optimizer, ScalarType dtype, int optimizerKind) =>
        TorchSupport.LoadState(state, net, optimizer, r =>
        {
            if (r.ReadString() != magic) throw new InvalidDataException($"Not a {magic}.");
            int v = r.ReadInt32();
            if (v != version) throw new InvalidDataException($"Unsupported state version {v}.");
            var got = (r.ReadInt64(), r.ReadInt64(), r.ReadInt64(), r.ReadBoolean(), r.ReadInt32(), r.ReadInt32());
            var want = (net.P.shape[0], net.Q.shape[0], net.P.shape[1], net.B is not null, (int)dtype, optimizerKind);
            if (got != want) throw new InvalidDataException($"State (users, items, d, bias, dtype, optimiser) = {got} does not match this model's {want}.");
        });
}

/// <summary>
/// The optimiser of a reference model. Dense kinds wrap TorchSharp's <c>torch.optim</c> classes over whole
/// tensors; <see cref="OptimizerKind.LazyAdam"/> is implemented here with tensor ops on the touched rows.
/// <list type="bullet">
/// <item><b>Adam</b>: <c>torch.optim.Adam</c>, β₁ = 0.9, β₂ = 0.999 (passed explicitly: TorchSharp's
/// <c>torch.optim.Adam</c> factory defaults β₂ to 0.99), ε = 1e-8, PyTorch form
/// θ ← θ − (lr / (1 − β₁ᵗ)) · m / (√v / √(1 − β₂ᵗ) + ε); every element's moments decay every step. The step is
/// TorchSharp's own, op for op, run here with kept Scalars (<see cref="KeptAdam"/>); its state (and so the checkpoint
/// format) stays TorchSharp's.</item>
/// <item><b>LazyAdam</b> (TF LazyAdam / PyTorch SparseAdam): for a table, only the rows present in the batch
/// (even when their gradient is zero) get m ← β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g², θ ← θ − α_t · m / (√v + ε)
/// with α_t = lr·√(1 − β₂ᵗ)/(1 − β₁ᵗ), where t is the GLOBAL step count (number of optimiser steps taken,
/// shared by all rows, as in TF LazyAdam and SparseAdam); the ε is added to √v, not to the bias-corrected √v̂.
/// Rows absent from the batch keep their value and moments bit-identical. Dense tensors (LRML's K and M)
/// get the dense PyTorch Adam form of the Adam item above (as TF LazyAdam treats dense gradients, and as the
/// fused engine does), with the same global t. Bias corrections are computed in double.</item>
/// <item><b>Sgd</b>: <c>torch.optim.SGD</c> (no momentum, no weight decay): θ ← θ − lr·g.</item>
/// <item><b>Adagrad</b>: <c>torch.optim.Adagrad</c> (initial accumulator 0, ε = 1e-10, no lr decay):
/// s ← s + g², θ ← θ − lr·g/(√s + ε).</item>
/// </list>
/// A parameter may have its own learning rate (LRML's memory_learning_rate): dense kinds then put it in its own
/// parameter group (PyTorch semantics, no change to the update rule); lazy Adam scales its steps with it.
/// </summary>
internal sealed class ModelOptimizer : IDisposable
{
    public const double Beta1 = 0.9, Beta2 = 0.999, AdamEpsilon = 1e-8, AdagradEpsilon = 1e-10;
    // the lazy step's constants as kept-alive Scalars (see KeptScalars)
    private static readonly Scalar SBeta1 = Beta1.ToScalar(), SBeta2 = Beta2.ToScalar(), SOneMinusBeta1 = (1 - Beta1).ToScalar(),
        SOneMinusBeta2 = (1 - Beta2).ToScalar(), SEpsilon = AdamEpsilon.ToScalar();

    private readonly OptimizerKind _kind;
    private readonly double[] _lr;
    private readonly Parameter[] _params;
    private readonly OptimizerHelper? _dense;
    private readonly KeptAdam.Adam? _adam;
    private readonly Tensor[]? _m, _v;
    private long _t;

    /// <summary>An optimiser over <paramref name="trainable"/>; <paramref name="learningRateOf"/> gives some parameters (by
    /// name) their own learning rate, the others use <paramref name="learningRate"/>.</summary>
    public ModelOptimizer(OptimizerKind kind, double learningRate, IReadOnlyList<(string Name, Parameter Parameter)> trainable,
        IReadOnlyDictionary<string, double>? learningRateOf = null)
    {
        _kind = kind;
        _params = trainable.Select(t => t.Parameter).ToArray();
        Names = trainable.Select(t => t.Name).ToArray();
        _lr = trainable.Select(t => learningRateOf is not null && learningRateOf.TryGetValue(t.Name, out double lr) ? lr : learningRate).ToArray();
        // one group per distinct rate, in first-parameter order; a single rate keeps the plain one-group optimiser
        var groups = _lr.Distinct().Select(lr => (Lr: lr, Params: _params.Where((_, k) => _lr[k] == lr).ToArray())).ToArray();
        bool single = groups.Length == 1;
        switch (kind)
        {
            case OptimizerKind.Adam:
                _dense = _adam = single
                    ? new KeptAdam.Adam(_params, groups[0].Lr)
                    : new KeptAdam.Adam(groups.Select(g => new Adam.ParamGroup(g.Params, new Adam.Options { LearningRate = g.Lr })), learningRate);
                break;
            case OptimizerKind.Sgd:
                _dense = single
                    ? new SGD(_params, learningRate)
                    : new SGD(groups.Select(g => new SGD.ParamGroup(g.Params, new SGD.Options { LearningRate = g.Lr })), learningRate);
                break;
            case OptimizerKind.Adagrad:
                _dense = single
                    ? new Adagrad(_params, lr: learningRate, lr_decay: 0, weight_decay: 0, initial_accumulator_value: 0, eps: AdagradEpsilon)
                    : new Adagrad(groups.Select(g => new Adagrad.ParamGroup(g.Params, new Adagrad.Options { LearningRate = g.Lr })), lr: learningRate,
                        lr_decay: 0, weight_decay: 0, initial_accumulator_value: 0, eps: AdagradEpsilon);
                break;
            case OptimizerKind.LazyAdam:
                _m = new Tensor[_params.Length]; _v = new Tensor[_params.Length];
                for (int k = 0; k < _params.Length; k++)
                {
                    _m[k] = zeros_like(_params[k]).DetachFromDisposeScope();
                    _v[k] = zeros_like(_params[k]).DetachFromDisposeScope();
                }
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(kind), kind, "Unknown optimiser.");
        }
    }

    /// <summary>Names of the parameters this optimiser updates, in order.</summary>
    public IReadOnlyList<string> Names { get; }

    /// <summary>Whether the optimiser is row-sparse (gradients are taken w.r.t. the touched rows only).</summary>
    public bool IsLazy => _kind == OptimizerKind.LazyAdam;

    /// <summary>Number of lazy steps taken (the global t of the bias correction); 0 for dense kinds.</summary>
    public long LazyStepCount => _t;

    /// <summary>Dense step from each parameter's <c>.grad</c>, after per-tensor gradient clipping.</summary>
    public void StepDense(double clipValue, double clipNorm)
    {
        if (_dense is null) throw new InvalidOperationException("StepDense on a lazy optimiser.");
        if (clipValue > 0 || clipNorm > 0)
            foreach (var p in _params)
            {
                var g = p.grad;
                if (g is not null) TorchSupport.ClipGradient(g, clipValue, clipNorm);
            }
        if (_adam is not null) StepAdam();
        else _dense.step();
    }

    /// <summary>
    /// TorchSharp 0.107's <c>Adam.step</c> (β₁, β₂, ε as constructed; no weight decay, amsgrad or maximize), op for op on
    /// its own state tensors, but with kept Scalars instead of the temporaries it converts per parameter per step (see
    /// <see cref="KeptScalars"/>): for each parameter with a gradient, t ← t + 1, m ← m·β₁ + (1−β₁)·g,
    /// v ← v·β₂ + (1−β₂)·g·conj(g), θ ← θ − (lr/(1−β₁ᵗ)) · m / (√v / √(1−β₂ᵗ) + ε), the bias corrections in double as
    /// there. Same ops, same Scalar types and values: bit-identical to <c>_dense.step()</c>.
    /// </summary>
    private void StepAdam()
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        for (int k = 0; k < _params.Length; k++)
        {
            var p = _params[k];
            var state = _adam!.StateOf(p);
            var g = p.grad;
            if (g is null) continue;
            state.step++;
            double bc1 = 1 - Math.Pow(Beta1, state.step), bc2 = 1 - Math.Pow(Beta2, state.step);
            state.exp_avg.mul_(SBeta1).add_(g, SOneMinusBeta1);
            state.exp_avg_sq.mul_(SBeta2).addcmul_(g, g.conj(), SOneMinusBeta2);
            using Scalar sqrtBc2 = Math.Sqrt(bc2).ToScalar(), step = (-(_lr[k] / bc1)).ToScalar();
            var denom = state.exp_avg_sq.sqrt().div(sqrtBc2).add_(SEpsilon, KeptScalars.One);
            p.addcdiv_(state.exp_avg, denom, step);
        }
    }

    /// <summary>
    /// Lazy Adam step. <paramref name="grads"/>[k] belongs to parameter k: <c>Rows</c> are the distinct touched
    /// rows (int64) and <c>Grad</c> their gradient (rows × …), or <c>Rows</c> = null for a dense gradient over
    /// the whole tensor. A null <c>Grad</c> skips the parameter (its moments are not decayed).
    /// </summary>
    public void StepLazy(ReadOnlySpan<(Tensor? Rows, Tensor? Grad)> grads, double clipValue, double clipNorm)
    {
        if (_m is null || _v is null) throw new InvalidOperationException("StepLazy on a dense optimiser.");
        if (grads.Length != _params.Length) throw new ArgumentException("One gradient per parameter is required.");
        _t++;
        double bc1 = 1 - Math.Pow(Beta1, _t), bc2 = 1 - Math.Pow(Beta2, _t);
        using var sqrtBc2 = Math.Sqrt(bc2).ToScalar();
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        for (int k = 0; k < _params.Length; k++)
        {
            var (rows, g) = grads[k];
            if (g is null) continue;
            if (clipValue > 0 || clipNorm > 0) TorchSupport.ClipGradient(g, clipValue, clipNorm);
            var p = _params[k];
            double lrk = _lr[k], stepSize = lrk * Math.Sqrt(bc2) / bc1;
            if (rows is null)
            {
                // dense tensors (K, M) get PyTorch's dense Adam form, as TF's LazyAdam does for dense gradients
                using var step = (-lrk / bc1).ToScalar();
                _m[k].mul_(SBeta1).add_(g, alpha: SOneMinusBeta1);
                _v[k].mul_(SBeta2).addcmul_(g, g, value: SOneMinusBeta2);
                p.addcdiv_(_m[k], _v[k].sqrt().div_(sqrtBc2).add_(SEpsilon, KeptScalars.One), value: step);
            }
            else
            {
                using var step = (-stepSize).ToScalar();
                var m = _m[k].index_select(0, rows).mul_(SBeta1).add_(g, alpha: SOneMinusBeta1);
                var v = _v[k].index_select(0, rows).mul_(SBeta2).addcmul_(g, g, value: SOneMinusBeta2);
                _m[k].index_copy_(0, rows, m);
                _v[k].index_copy_(0, rows, v);
                var updated = p.index_select(0, rows).addcdiv_(m, v.sqrt().add_(SEpsilon, KeptScalars.One), value: step);
                p.index_copy_(0, rows, updated);
            }
        }
    }

    /// <summary>Writes the optimiser state (moments, accumulators, step counts).</summary>
    public void Save(BinaryWriter writer)
    {
        writer.Write((int)_kind);
        if (_dense is not null) { _dense.save_state_dict(writer); return; }
        writer.Write(_t);
        for (int k = 0; k < _params.Length; k++) { _m![k].Save(writer); _v![k].Save(writer); }
    }

    /// <summary>Restores state written by <see cref="Save"/> for the same kind and parameter shapes.</summary>
    public void Load(BinaryReader reader)
    {
        var kind = (OptimizerKind)reader.ReadInt32();
        if (kind != _kind) throw new InvalidDataException($"State was saved with optimiser {kind}, this model uses {_kind}.");
        if (_dense is not null) { _dense.load_state_dict(reader); return; }
        _t = reader.ReadInt64();
        using var noGrad = no_grad();
        for (int k = 0; k < _params.Length; k++) { _m![k].Load(reader); _v![k].Load(reader); }
    }

    public void Dispose()
    {
        _dense?.Dispose();
        if (_m is not null) foreach (var t in _m) t.Dispose();
        if (_v is not null) foreach (var t in _v) t.Dispose();
    }
}

/// <summary>
/// TorchSharp's <c>Adam</c> (β₁ = <see cref="ModelOptimizer.Beta1"/>, β₂ = <see cref="ModelOptimizer.Beta2"/>, ε =
/// <see cref="ModelOptimizer.AdamEpsilon"/>) that lets <see cref="ModelOptimizer"/> reach each parameter's state (step count and
/// moments) to run the step with kept Scalars; saving and loading are TorchSharp's, so checkpoints keep their format.
/// </summary>
internal static class KeptAdam
{
    /// <summary>Named <c>Adam</c> on purpose: TorchSharp writes the optimiser's type name into its saved state and refuses to
    /// load a state saved under another name, so this name keeps existing checkpoints loadable (and new ones readable by
    /// builds that use TorchSharp's Adam directly).</summary>
    internal sealed class Adam : TorchSharp.Modules.Adam
    {
        public Adam(IEnumerable<Parameter> parameters, double lr)
            : base(parameters, lr, ModelOptimizer.Beta1, ModelOptimizer.Beta2, ModelOptimizer.AdamEpsilon) { }

        public Adam(IEnumerable<ParamGroup> groups, double lr)
            : base(groups, lr, ModelOptimizer.Beta1, ModelOptimizer.Beta2, ModelOptimizer.AdamEpsilon) { }

        /// <summary>The state TorchSharp keeps for <paramref name="p"/> (created with the optimiser; its tensors are loaded in place).</summary>
        public State StateOf(Parameter p) => (State)_state[p.Handle];
    }
}

/// <summary>
/// Scalars that stay alive, and the tensor ops the per-batch code of the torch models writes with them.
/// Why: TorchSharp turns each C# number given to a tensor op (and, inside <c>a + b</c>, <c>square()</c> and
/// <c>softplus</c>, numbers of its own) into a <see cref="Scalar"/> that owns a native handle and has a finaliser, and
/// passes the handle to native code without keeping the object alive. A garbage collection during that call can run
/// the finaliser and free the Scalar the op is still reading: a rare crash of torch-engine training. Static Scalars
/// are never finalised; a per-step value is held by <c>using</c> (alive to the end of the step, freed there). Each op
/// calls the TorchSharp overload the plain form calls, with a Scalar of the same type and value: results are
/// bit-identical. (TorchSharp's own SGD and Adagrad steps still make such temporaries; dense Adam runs here, see
/// <see cref="ModelOptimizer"/>.)
/// </summary>
internal static class KeptScalars
{
    /// <summary>int 1: the alpha that TorchSharp's <c>a + b</c> passes.</summary>
    public static readonly Scalar One = 1.ToScalar();
    /// <summary>int 2: the exponent that TorchSharp's <c>square()</c> passes.</summary>
    public static readonly Scalar Two = 2.ToScalar();
    /// <summary>double 0.</summary>
    public static readonly Scalar Zero = 0.0.ToScalar();
    /// <summary>double 1.</summary>
    public static readonly Scalar OneD = 1.0.ToScalar();
    /// <summary>double 20: the threshold of <c>softplus</c>.</summary>
    private static readonly Scalar Twenty = 20.0.ToScalar();

    // TorchSharp's public softplus(double beta, double threshold) converts both to temporary Scalars and calls this
    // private overload; it is called directly with kept Scalars (the public form remains the fallback).
    private static readonly Func<Tensor, Scalar, Scalar, Tensor>? SoftplusCore =
        typeof(Tensor).GetMethod("softplus1", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Instance,
            [typeof(Scalar), typeof(Scalar)])?.CreateDelegate<Func<Tensor, Scalar, Scalar, Tensor>>();

    /// <summary>Whether <see cref="Softplus"/> reaches TorchSharp's Scalar overload (false after a TorchSharp change).</summary>
    internal static bool SoftplusIsKept => SoftplusCore is not null;

    /// <summary><c>a + b</c>.</summary>
    public static Tensor Plus(this Tensor a, Tensor b) => a.add(b, One);

    /// <summary><c>a + s</c>.</summary>
    public static Tensor Plus(this Tensor a, Scalar s) => a.add(s, One);

    /// <summary><c>x.square()</c>.</summary>
    public static Tensor Squared(this Tensor x) => x.pow(Two);

    /// <summary><c>nn.functional.softplus(x)</c> = log(1 + eˣ) (β = 1, linear above 20).</summary>
    public static Tensor Softplus(this Tensor x) => SoftplusCore is null ? nn.functional.softplus(x) : SoftplusCore(x, OneD, Twenty);
}
