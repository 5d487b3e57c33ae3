using Lrml.Protocols;
using Lrml.Util;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Lrml.Models;

/// <summary>When TransCF projects its stored rows onto the unit ball.</summary>
public enum TransCfProjection
{
    /// <summary>After every epoch (the authors' released code).</summary>
    Epoch,
    /// <summary>After every optimiser step (CML style).</summary>
    Step,
    /// <summary>Never.</summary>
    None,
}

/// <summary>
/// TransCF hyper-parameters (Park et al., ICDM 2018). Defaults are the kit's choice for the LRML comparison (same d,
/// margin and optimiser as LRML/CML); the authors' code used SGD and averaged the hinge over the batch.
/// </summary>
public sealed record TransCfConfig : IModelConfig
{
    /// <summary>Embedding dimension d (kit's choice, as LRML's default).</summary>
    public int Dim { get; init; } = 100;

    /// <summary>Hinge margin γ on squared distances.</summary>
    public float Margin { get; init; } = 0.5f;

    /// <summary>Learning rate (kit's choice for Adam).</summary>
    public float LearningRate { get; init; } = 1e-3f;

    /// <summary>Optimiser: Adam (default), Sgd (authors' code) or Adagrad; LazyAdam (the rows with a gradient: the batch's users and
    /// items and the neighbours their means average) on the fused engine only.</summary>
    public OptimizerKind Optimizer { get; init; } = OptimizerKind.Adam;

    /// <summary>Weight λ_dist of the distance regulariser Σ‖α_u + r_ui − β_i‖² over positive pairs (the authors' reg1).</summary>
    public float DistanceWeight { get; init; } = 0.1f;

    /// <summary>Weight λ_nbr of the neighbourhood regulariser Σ(‖α_u − α_u^nbr‖² + ‖β_i − β_i^nbr‖²) (the authors' reg2).</summary>
    public float NeighbourhoodWeight { get; init; } = 0.1f;

    /// <summary>At most this many neighbours (drawn uniformly with replacement per step) average into a training-time
    /// neighbourhood embedding; 0 = all (paper). Scoring always uses all neighbours.</summary>
    public int NeighbourSample { get; init; } = 0;

    /// <summary>When stored rows are projected onto the unit ball.</summary>
    public TransCfProjection Projection { get; init; } = TransCfProjection.Epoch;

    /// <summary>Standard deviation of the N(0, σ²) initialisation (authors' code: 0.01).</summary>
    public float InitStd { get; init; } = 0.01f;

    /// <summary>Checks ranges; throws <see cref="ArgumentException"/> naming the bad field.</summary>
    public void Validate()
    {
        if (Dim < 1) throw new ArgumentException($"Dim must be ≥ 1 (got {Dim}).");
        if (!(Margin >= 0) || float.IsInfinity(Margin)) throw new ArgumentException($"Margin must be a finite value ≥ 0 (got {Margin}).");
        if (!(LearningRate > 0) || float.IsInfinity(LearningRate)) throw new ArgumentException($"LearningRate must be a finite number > 0 (got {LearningRate}).");
        if (!(DistanceWeight >= 0)) throw new ArgumentException($"DistanceWeight must be ≥ 0 (got {DistanceWeight}).");
        if (!(NeighbourhoodWeight >= 0)) throw new ArgumentException($"NeighbourhoodWeight must be ≥ 0 (got {NeighbourhoodWeight}).");
        if (NeighbourSample < 0) throw new ArgumentException($"NeighbourSample must be ≥ 0 (got {NeighbourSample}).");
        if (!(InitStd > 0)) throw new ArgumentException($"InitStd must be > 0 (got {InitStd}).");
    }
}

/// <summary>
/// TransCF — Collaborative Translational Metric Learning. Chanyoung Park, Donghyun Kim, Xing Xie, Hwanjo Yu, ICDM 2018,
/// pp. 367–376, doi 10.1109/ICDM.2018.00052, arXiv 1906.01637. The translation-based control for LRML: like LRML it moves
/// the user by a pair-specific vector r_ui before measuring the distance, but r_ui comes from neighbourhoods, not memory.
/// </summary>
/// <remarks>
/// <list type="bullet">
/// <item>Neighbourhood embeddings from the training interactions: α_u^nbr = mean of β_j over the items j of u;
/// β_i^nbr = mean of α_v over the users v of i (0 for an item without training users).</item>
/// <item>Translation r_ui = α_u^nbr ⊙ β_i^nbr; squared distance s(u,i) = ‖α_u + r_ui − β_i‖²; score = −s. The negative
/// pair uses its own translation r_uj = α_u^nbr ⊙ β_j^nbr.</item>
/// <item>Loss of a batch, summed over its triples (u, i⁺, j) (k negatives per positive give k triples), as the paper's
/// objective: Σ [γ + s(u,i⁺) − s(u,j)]₊ + λ_dist·Σ s(u,i⁺) + λ_nbr·Σ(‖α_u − α_u^nbr‖² + ‖β_i⁺ − β_i⁺^nbr‖²); gradients flow
/// through the neighbourhood means into every neighbour row. Deviation from the authors' code: their hinge is averaged
/// over the batch (PyTorch MarginRankingLoss) while the regularisers are summed, so their λ are effectively B times
/// larger relative to the hinge; here every term is summed.</item>
/// <item>‖α_u‖ ≤ 1, ‖β_i‖ ≤ 1 by projecting stored rows (after every epoch as the authors' code, or every step);
/// the neighbourhood means of unit-ball rows are then in the unit ball too. Init N(0, σ²), streams "transcf.init.P/Q".</item>
/// <item><see cref="TransCfConfig.NeighbourSample"/> &gt; 0 replaces the training-time means by means over that many
/// neighbours drawn with replacement (unbiased, much cheaper on dense data; stream "transcf.neighbours"); a kit option,
/// not in the paper.</item>
/// </list>
/// </remarks>
public sealed class TransCfModel : ITrainableRecommender
{
    /// <summary>The registry entry "transcf" (factory and memory sizing: the neighbourhood means of every user and item are
    /// held next to the embeddings).</summary>
    internal static ModelEntry Entry { get; } = ModelEntry.Torch<TransCfConfig>("transcf", "TransCF",
        "Park, Kim, Xie, Yu. Collaborative Translational Metric Learning. ICDM 2018.",
        (cfg, c, device) => new TransCfModel(cfg, c.Train, c.Seed, device))
        .Sized<TransCfConfig>((cfg, c) => ModelMemory.Embeddings(cfg.Dim, cfg.Optimizer, c.NumUsers, c.NumItems, c.NegativesPerPositive, extraCopies: 2));

    private const int StateVersion = 1;
    private const int PairChunk = 1 << 14;

    private readonly TransCfConfig _config;
    private readonly EmbeddingNet _net;
    private readonly ModelOptimizer _optimizer;
    private readonly Device _device;
    private readonly ScalarType _dtype;
    private readonly int[] _userOffsets, _userItems;   // items of each user (training)
    private readonly int[] _itemOffsets, _itemUsers;   // users of each item (training)
    private readonly Rng _neighbourRng;
    private readonly RowIndexer _userRows, _itemRows;
    private Tensor? _nbrUsers, _nbrItems;               // cached full neighbourhood tables for scoring

    /// <summary>Creates a seeded model over the given training interactions (they define the neighbourhoods).</summary>
    public TransCfModel(TransCfConfig config, UserItems train, long seed, Device? device = null, ScalarType dtype = ScalarType.Float32)
        : this(config, train, InitRows(config, train?.NumUsers ?? 0, seed, "transcf.init.P"), InitRows(config, train?.NumItems ?? 0, seed, "transcf.init.Q"),
               seed, device, dtype) { }

    /// <summary>Creates a model from given embeddings (row-major users × d and items × d, copied; not projected).</summary>
    public TransCfModel(TransCfConfig config, UserItems train, float[] userEmbeddings, float[] itemEmbeddings, long seed = 1,
        Device? device = null, ScalarType dtype = ScalarType.Float32)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(train);
        config.Validate();
        if (config.Optimizer == OptimizerKind.LazyAdam)
            throw new ArgumentException("lazy-adam is implemented for TransCF on the fused CPU engine only (its default on a CPU; --engine fused); the TorchSharp engine offers adam, sgd and adagrad.");
        EmbeddingNet.CheckEmbeddings(train.NumUsers, train.NumItems, config.Dim, userEmbeddings, itemEmbeddings);
        _config = config;
        _device = device ?? CPU;
        _dtype = TorchSupport.CheckDType(dtype);
        _net = new EmbeddingNet("TransCF", train.NumUsers, train.NumItems, config.Dim, userEmbeddings, itemEmbeddings, null, _dtype, _device);
        _optimizer = new ModelOptimizer(config.Optimizer, config.LearningRate, [("P", _net.P), ("Q", _net.Q)]);
        _userOffsets = train.Offsets; _userItems = train.Items;
        (_itemOffsets, _itemUsers) = Transpose(train);
        _neighbourRng = new Rng(seed, "transcf.neighbours");
        _userRows = new RowIndexer(train.NumUsers);
        _itemRows = new RowIndexer(train.NumItems);
    }

    private static float[] InitRows(TransCfConfig config, int rows, long seed, string stream)
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        return TorchSupport.GaussianInit((long)rows * config.Dim, config.InitStd, seed, stream);
    }

    private static (int[] Offsets, int[] Users) Transpose(UserItems train)
    {
        var offsets = new int[train.NumItems + 1];
        foreach (int i in train.Items) offsets[i + 1]++;
        for (int i = 0; i < train.NumItems; i++) offsets[i + 1] += offsets[i];
        var users = new int[train.Count];
        var fill = offsets.AsSpan(0, train.NumItems).ToArray();
        for (int u = 0; u < train.NumUsers; u++)
            foreach (int i in train[u]) users[fill[i]++] = u;      // ascending users per item
        return (offsets, users);
    }

    /// <inheritdoc/>
    public string Name => "TransCF";
    /// <inheritdoc/>
    public int NumUsers => (int)_net.P.shape[0];
    /// <inheritdoc/>
    public int NumItems => (int)_net.Q.shape[0];
    /// <summary>The configuration the model was built with.</summary>
    public TransCfConfig Config => _config;
    /// <summary>Budget (elements) of one per-chunk intermediate in <see cref="ScoreAllItems"/>.</summary>
    public long ScoreBudget { get; set; } = LrmlModel.DefaultScoreBudget;

    internal Parameter P => _net.P;
    internal Parameter Q => _net.Q;

    /// <summary>
    /// Mean rows of <paramref name="table"/> over the neighbour lists of <paramref name="ids"/> (CSR <paramref name="offsets"/>,
    /// <paramref name="members"/>), as a differentiable (ids × d) tensor: one index_select of all members, one scatter_add
    /// into their bags, one scaling by 1/|bag|. Empty bags give 0. With <paramref name="sample"/> &gt; 0 each bag larger than
    /// it uses that many members drawn with replacement.
    /// </summary>
    private Tensor NeighbourMeans(Tensor table, ReadOnlySpan<long> ids, int[] offsets, int[] members, int sample, Rng? rng)
    {
        long total = 0;
        for (int b = 0; b < ids.Length; b++)
        {
            int n = offsets[ids[b] + 1] - offsets[ids[b]];
            total += sample > 0 && n > sample ? sample : n;
        }
        var flat = new long[total];
        var bag = new long[total];
        var scale = new double[ids.Length];
        long at = 0;
        for (int b = 0; b < ids.Length; b++)
        {
            int start = offsets[ids[b]], n = offsets[ids[b] + 1] - start;
            if (sample > 0 && n > sample)
            {
                for (int s = 0; s < sample; s++) { flat[at] = members[start + rng!.NextInt(n)]; bag[at++] = b; }
                scale[b] = 1.0 / sample;
            }
            else
            {
                for (int s = 0; s < n; s++) { flat[at] = members[start + s]; bag[at++] = b; }
                scale[b] = n == 0 ? 0 : 1.0 / n;
            }
        }
        var sum = zeros(ids.Length, table.shape[1], dtype: table.dtype, device: _device);
        if (total > 0)
        {
            var rows = table.index_select(0, TorchSupport.Index(flat, _device));
            sum = sum.scatter_add(0, TorchSupport.Index(bag, _device).unsqueeze(1).expand(total, table.shape[1]), rows);
        }
        return sum * torch.tensor(scale, device: _device).to(table.dtype).unsqueeze(1);
    }

    private sealed record Pass(Tensor Loss, Tensor Hinge, Tensor Distance, Tensor Neighbourhood);

    private Pass Forward(TrainingBatch batch, bool training)
    {
        int n = batch.Count, k = batch.NegativesPerPositive;
        // distinct users and items of the batch, and each position's slot
        var (invU, invPos, invNeg, uList, iList) = BatchViews.Slots(batch, _userRows, _itemRows);
        var rng = training && _config.NeighbourSample > 0 ? _neighbourRng : null;
        int sample = rng is null ? 0 : _config.NeighbourSample;
        var nbrU = NeighbourMeans(_net.Q, uList, _userOffsets, _userItems, sample, rng);   // α_u^nbr: mean β over u's items
        var nbrI = NeighbourMeans(_net.P, iList, _itemOffsets, _itemUsers, sample, rng);   // β_i^nbr: mean α over i's users

        var uIdx = TorchSupport.Index(invU, _device); var posIdx = TorchSupport.Index(invPos, _device); var negIdx = TorchSupport.Index(invNeg, _device);
        var a = _net.P.index_select(0, TorchSupport.Index(batch.Users.AsSpan(0, n), _device));                // B × d
        var bPos = _net.Q.index_select(0, TorchSupport.Index(batch.Positives.AsSpan(0, n), _device));         // B × d
        var bNeg = _net.Q.index_select(0, TorchSupport.Index(batch.Negatives.AsSpan(0, n * k), _device)).view(n, k, -1);
        var au = nbrU.index_select(0, uIdx);                                                                  // B × d
        var rPos = au * nbrI.index_select(0, posIdx);
        var rNeg = au.unsqueeze(1) * nbrI.index_select(0, negIdx).view(n, k, -1);
        // Plus, Squared: a + b, square() with kept-alive Scalars (see KeptScalars)
        using Scalar margin = ((double)_config.Margin).ToScalar(), distanceWeight = ((double)(_config.DistanceWeight * k)).ToScalar(),
            neighbourhoodWeight = ((double)(_config.NeighbourhoodWeight * k)).ToScalar();
        var sPos = (a.Plus(rPos) - bPos).Squared().sum(-1);                                                   // B
        var sNeg = (a.unsqueeze(1).Plus(rNeg) - bNeg).Squared().sum(-1);                                      // B × k
        var hinge = (sPos.unsqueeze(1) - sNeg).Plus(margin).clamp_min(KeptScalars.Zero).sum();
        var dist = sPos.sum().mul(distanceWeight);
        var nbr = (a - au).Squared().sum().Plus((bPos - nbrI.index_select(0, posIdx)).Squared().sum()).mul(neighbourhoodWeight);
        return new Pass(hinge.Plus(dist).Plus(nbr), hinge, dist, nbr);
    }

    /// <summary>Hinge part of the last step's loss.</summary>
    public double LastHingeLoss { get; private set; }

    /// <inheritdoc/>
    public double TrainStep(TrainingBatch batch)
    {
        TorchSupport.CheckBatch(batch, NumUsers, NumItems);
        using var scope = NewDisposeScope();
        var pass = Forward(batch, training: true);
        _net.zero_grad();
        pass.Loss.backward();
        _optimizer.StepDense(0, 0);
        if (_config.Projection == TransCfProjection.Step) { TorchSupport.ProjectAllRows(_net.P); TorchSupport.ProjectAllRows(_net.Q); }
        InvalidateCache();
        LastHingeLoss = TorchSupport.Scalar(pass.Hinge);
        return TorchSupport.Scalar(pass.Loss);
    }

    /// <inheritdoc/>
    public void EndEpoch(int epoch)
    {
        if (_config.Projection != TransCfProjection.Epoch) return;
        TorchSupport.ProjectAllRows(_net.P);
        TorchSupport.ProjectAllRows(_net.Q);
        InvalidateCache();
    }

    /// <summary>Loss (total, hinge, distance, neighbourhood parts) and dense gradients of P and Q, without updating
    /// (neighbour sampling is not applied).</summary>
    internal (double Loss, double Hinge, double Distance, double Neighbourhood, double[] P, double[] Q) ComputeGradients(TrainingBatch batch)
    {
        TorchSupport.CheckBatch(batch, NumUsers, NumItems);
        using var scope = NewDisposeScope();
        var pass = Forward(batch, training: false);
        _net.zero_grad();
        pass.Loss.backward();
        var gp = TorchSupport.ToDoubles(_net.P.grad!); var gq = TorchSupport.ToDoubles(_net.Q.grad!);
        _net.zero_grad();
        return (TorchSupport.Scalar(pass.Loss), TorchSupport.Scalar(pass.Hinge), TorchSupport.Scalar(pass.Distance), TorchSupport.Scalar(pass.Neighbourhood), gp, gq);
    }

    private void InvalidateCache()
    {
        _nbrUsers?.Dispose(); _nbrUsers = null;
        _nbrItems?.Dispose(); _nbrItems = null;
    }

    /// <summary>The full neighbourhood tables (users × d, items × d) of the current parameters, computed once per parameter state.</summary>
    private (Tensor Users, Tensor Items) Neighbourhoods()
    {
        if (_nbrUsers is not null && _nbrItems is not null) return (_nbrUsers, _nbrItems);
        using var noGrad = no_grad();
        _nbrUsers = Chunked(_net.Q, NumUsers, _userOffsets, _userItems);
        _nbrItems = Chunked(_net.P, NumItems, _itemOffsets, _itemUsers);
        return (_nbrUsers, _nbrItems);
    }

    private Tensor Chunked(Tensor table, int count, int[] offsets, int[] members)
    {
        using var scope = NewDisposeScope();
        var parts = new List<Tensor>();
        const long budget = 1 << 22;  // neighbour rows gathered per chunk
        int start = 0;
        while (start < count)
        {
            int end = start; long rows = 0;
            while (end < count && (end == start || rows + offsets[end + 1] - offsets[end] <= budget)) { rows += offsets[end + 1] - offsets[end]; end++; }
            var ids = new long[end - start];
            for (int x = 0; x < ids.Length; x++) ids[x] = start + x;
            parts.Add(NeighbourMeans(table, ids, offsets, members, 0, null));
            start = end;
        }
        return cat(parts, 0).MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    public void ScorePairs(ReadOnlySpan<int> users, ReadOnlySpan<int> items, Span<float> scores)
    {
        var (nu, ni) = Neighbourhoods();
        TorchSupport.ScorePairsChunked(users, items, scores, NumUsers, NumItems, _device, (u, i) =>
        {
            var r = nu.index_select(0, u) * ni.index_select(0, i);
            return (_net.P.index_select(0, u).Plus(r) - _net.Q.index_select(0, i)).Squared().sum(-1).neg();
        }, PairChunk);
    }

    /// <inheritdoc/>
    public void ScoreAllItems(ReadOnlySpan<int> users, Span<float> scores)
    {
        var (nu, ni) = Neighbourhoods();
        TorchSupport.ScoreAllChunked(users, scores, NumUsers, NumItems, 1, ScoreBudget, _device, (uIdx, i0, n) =>
        {   // ‖a + u⊙i − q‖² = ‖a‖² + ‖q‖² + [u², 2a⊙u, −2a, −2u]·[i², i, q, i⊙q]: one matrix product, no users × items × d tensor
            var (a, u, i, q) = (_net.P.index_select(0, uIdx), nu.index_select(0, uIdx), ni.narrow(0, i0, n), _net.Q.narrow(0, i0, n));
            var (au, a2, u2) = (a * u, a.Plus(a), u.Plus(u));
            return TorchSupport.NegSquaredDistances(a.Squared().sum(1), cat([u.Squared(), au.Plus(au), a2.neg(), u2.neg()], 1),
                q.Squared().sum(1), cat([i.Squared(), i, q, i * q], 1));
        });
    }

    /// <summary>User and item embeddings (row-major copies).</summary>
    public (float[] Users, float[] Items) ExportEmbeddings() => (TorchSupport.ToFloats(_net.P), TorchSupport.ToFloats(_net.Q));

    /// <summary>The translation vector r_ui of a pair under the current parameters (full neighbourhoods).</summary>
    public float[] Translation(int user, int item)
    {
        TorchSupport.CheckRange([user], NumUsers, "user");
        TorchSupport.CheckRange([item], NumItems, "item");
        var (nu, ni) = Neighbourhoods();
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        return TorchSupport.ToFloats(nu[user] * ni[item]);
    }

    /// <inheritdoc/>
    public bool ParametersAreFinite() => TorchSupport.AllFinite(_net);
    /// <inheritdoc/>
    public double MaxAbsParameter() => TorchSupport.MaxAbs(_net);

    /// <inheritdoc/>
    public byte[] SaveState() =>
        TorchSupport.WithRngState(EmbeddingNet.Save("TRANSCF-TORCH-STATE", StateVersion, _net, _optimizer, _dtype, (int)_config.Optimizer), _neighbourRng);

    /// <inheritdoc/>
    public void LoadState(byte[] state)
    {
        var blob = TorchSupport.WithoutRngState(state, "Not a TRANSCF-TORCH-STATE.", out var rng);
        EmbeddingNet.Load(blob, "TRANSCF-TORCH-STATE", StateVersion, _net, _optimizer, _dtype, (int)_config.Optimizer);
        _neighbourRng.SetState(rng);
        InvalidateCache();
    }

    /// <inheritdoc/>
    public IReadOnlyDictionary<string, object?> Describe()
    {
        var d = TorchSupport.DescribeConfig(Name, _config, NumUsers, NumItems, _dtype, _device);
        d["Loss"] = "sum of hinge + λ_dist·Σs(u,i⁺) + λ_nbr·Σneighbourhood, per triple";
        return d;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        InvalidateCache();
        _optimizer.Dispose();
        _net.Dispose();
    }
}
