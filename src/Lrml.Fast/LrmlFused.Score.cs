using System.Numerics;
using System.Runtime.CompilerServices;
using static Lrml.Fast.FusedMath;

using Lrml.Models;

namespace Lrml.Fast;

public sealed unsafe partial class LrmlFused
{
    /// <summary>Items per work item of full ranking (a multiple of the item block).</summary>
    private const int ScoreSegmentBlocks = 32;
    private const int PairBlock = 256;

    private sealed class ScoreScratch
    {
        public readonly float[] Ph, Qh, S, Logits, A, R, Diff, Ku, Mp, L, Pq, Out, GQt, GMq;
        public ScoreScratch(int d, int dp, int n, int np, int wb)
        {
            Ph = new float[dp]; Qh = new float[dp]; S = new float[dp]; Logits = new float[np]; A = new float[np];
            R = new float[dp]; Diff = new float[dp];
            Ku = new float[d * n]; Mp = new float[n]; L = new float[n * wb]; Pq = new float[wb]; Out = new float[wb];
            GQt = new float[d * wb]; GMq = new float[n * wb];
        }
    }

    private enum ScoreMode { Pairs, Explain, AllItems, BuildCache }

    private sealed class ScoreWork(LrmlFused m) : IParallelWork
    {
        public ScoreMode Mode;
        public string Phase => "score";
        public void Execute(int item, int worker)
        {
            switch (Mode)
            {
                case ScoreMode.Pairs: m.ScorePairBlock(item, worker, false); break;
                case ScoreMode.Explain: m.ScorePairBlock(item, worker, true); break;
                case ScoreMode.AllItems: m.ScoreSegment(item, worker); break;
                case ScoreMode.BuildCache: m.BuildCacheBlock(item); break;
            }
        }
    }

    private readonly ScoreWork _scoreWork;
    private readonly object _gate = new();
    private ScoreScratch[]? _sscratch;

    // call arguments of the running scoring job (pinned by the caller for its duration)
    private int* _aUsers, _aItems;
    private float* _aOut, _aOut2;
    private int _aCount, _aSegs;

    // item-side cache of full ranking, valid for _cacheVersion
    private int _cacheVersion = -1, _wb, _blocks;
    private float[] _cQt = [], _cMq = [], _cG = [], _cK = [];

    private ScoreScratch SScratch(int worker)
    {
        _sscratch ??= new ScoreScratch[_pool.Threads];
        return _sscratch[worker] ??= new ScoreScratch(_d, _dp, _n, _np, 2 * W);
    }

    /// <inheritdoc/>
    /// <remarks>Runs of at least 16 consecutive pairs with the same user (sampled evaluation: a user's
    /// candidates) go through the blocked path of <see cref="ScoreAllItems"/> on the gathered items, so
    /// sampled and full ranking share their arithmetic; shorter runs use the direct formula of the training
    /// forward pass (clip, attention, distance). Both return −D. Parallel over blocks of pairs.</remarks>
    public void ScorePairs(ReadOnlySpan<int> users, ReadOnlySpan<int> items, Span<float> scores)
    {
        if (users.Length != items.Length || scores.Length < users.Length)
            throw new ArgumentException($"users ({users.Length}), items ({items.Length}) and scores ({scores.Length}) must match.");
        CheckIndices(users, items);
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            CatchUpAll();
            if (users.Length >= MinRun) EnsureScoreCache();
            fixed (int* pu = users) fixed (int* pi = items) fixed (float* ps = scores)
            {
                _aUsers = pu; _aItems = pi; _aOut = ps; _aCount = users.Length;
                _scoreWork.Mode = ScoreMode.Pairs;
                _pool.Run(_scoreWork, (users.Length + PairBlock - 1) / PairBlock);
                _aUsers = null; _aItems = null; _aOut = null;
            }
        }
    }

    /// <inheritdoc/>
    public void Explain(ReadOnlySpan<int> users, ReadOnlySpan<int> items, Span<float> attention, Span<float> relation)
    {
        if (users.Length != items.Length) throw new ArgumentException("users and items differ in length.");
        if (attention.Length < (long)users.Length * _n) throw new ArgumentException($"attention needs {users.Length} × {_n} floats.");
        if (relation.Length < (long)users.Length * _d) throw new ArgumentException($"relation needs {users.Length} × {_d} floats.");
        CheckIndices(users, items);
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            CatchUpAll();
            fixed (int* pu = users) fixed (int* pi = items) fixed (float* pa = attention) fixed (float* pr = relation)
            {
                _aUsers = pu; _aItems = pi; _aOut = pa; _aOut2 = pr; _aCount = users.Length;
                _scoreWork.Mode = ScoreMode.Explain;
                _pool.Run(_scoreWork, (users.Length + PairBlock - 1) / PairBlock);
                _aUsers = null; _aItems = null; _aOut = null; _aOut2 = null;
            }
        }
    }

    /// <inheritdoc/>
    public (float[] Users, float[] Items) EffectiveEmbeddings(ReadOnlySpan<int> users, ReadOnlySpan<int> items)
    {
        for (int x = 0; x < users.Length; x++)
            if ((uint)users[x] >= (uint)_users) throw new ArgumentOutOfRangeException(nameof(users), $"users[{x}] = {users[x]} outside [0, {_users}).");
        for (int x = 0; x < items.Length; x++)
            if ((uint)items[x] >= (uint)_items) throw new ArgumentOutOfRangeException(nameof(items), $"items[{x}] = {items[x]} outside [0, {_items}).");
        var pu = new float[(long)users.Length * _d];
        var qi = new float[(long)items.Length * _d];
        var row = new float[_dp];
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            CatchUpAll();
            for (int x = 0; x < users.Length; x++)
            {
                LoadRow(ref At(_p, (nint)users[x] * _dp), ref Ref(row));
                row.AsSpan(0, _d).CopyTo(pu.AsSpan(x * _d, _d));
            }
            for (int x = 0; x < items.Length; x++)
            {
                LoadRow(ref At(_q, (nint)items[x] * _dp), ref Ref(row));
                row.AsSpan(0, _d).CopyTo(qi.AsSpan(x * _d, _d));
            }
        }
        return (pu, qi);
    }

    private void CheckIndices(ReadOnlySpan<int> users, ReadOnlySpan<int> items)
    {
        for (int x = 0; x < users.Length; x++)
        {
            if ((uint)users[x] >= (uint)_users) throw new ArgumentOutOfRangeException(nameof(users), $"users[{x}] = {users[x]} outside [0, {_users}).");
            if ((uint)items[x] >= (uint)_items) throw new ArgumentOutOfRangeException(nameof(items), $"items[{x}] = {items[x]} outside [0, {_items}).");
        }
    }

    /// <summary>Shortest run of one user's pairs scored through the blocked path.</summary>
    private const int MinRun = 16;

    private void ScorePairBlock(int blk, int worker, bool explain)
    {
        var S = SScratch(worker);
        int dp = _dp, n = _n, np = _np, d = _d, wb = _wb;
        ref float ph = ref Ref(S.Ph); ref float qh = ref Ref(S.Qh); ref float r = ref Ref(S.R); ref float diff = ref Ref(S.Diff);
        ref float a = ref Ref(S.A);
        int a0 = blk * PairBlock, a1 = Math.Min(_aCount, a0 + PairBlock);
        int lastUser = -1;
        for (int x = a0; x < a1;)
        {
            int u = _aUsers[x];
            if (!explain && _cacheVersion == _version)
            {
                int end = x + 1;
                while (end < a1 && _aUsers[end] == u) end++;
                if (end - x >= MinRun)
                {
                    PrepareUser(S, u);
                    lastUser = -1; // S.Ph now holds the blocked path's p̂ (the same vector)
                    for (int g0 = x; g0 < end; g0 += wb)
                    {
                        int cnt = Math.Min(wb, end - g0);
                        GatherItems(S, g0, cnt);
                        ScoreBlock(S, ref Ref(S.GQt), ref Ref(S.GMq));
                        for (int w = 0; w < cnt; w++) _aOut[g0 + w] = S.Out[w];
                    }
                    x = end;
                    continue;
                }
            }
            int i = _aItems[x];
            if (u != lastUser) { LoadRow(ref At(_p, (nint)u * dp), ref ph); lastUser = u; }
            LoadRow(ref At(_q, (nint)i * dp), ref qh);
            AttentionForward(ref ph, ref qh, ref Ref(S.S), ref Ref(S.Logits), ref a, ref r, ref Ref(_kt), ref Ref(_m), n, np, dp, _invTemperature);
            if (explain)
            {
                new ReadOnlySpan<float>(S.A, 0, n).CopyTo(new Span<float>(_aOut + (long)x * n, n));
                new ReadOnlySpan<float>(S.R, 0, d).CopyTo(new Span<float>(_aOut2 + (long)x * d, d));
            }
            else
            {
                for (int j = 0; j < dp; j += Vector<float>.Count) St(Ld(ref ph, j) + Ld(ref r, j) - Ld(ref qh, j), ref diff, j);
                _aOut[x] = -Distance(ref diff);
            }
            x++;
        }
    }

    /// <summary>Copies the cached q̂ and M·q̂ columns of items _aItems[g0..g0+cnt) into the gather tiles
    /// (lanes past cnt are zero).</summary>
    private void GatherItems(ScoreScratch S, int g0, int cnt)
    {
        int d = _d, n = _n, wb = _wb;
        if (cnt < wb) { Array.Clear(S.GQt); Array.Clear(S.GMq); }
        for (int w = 0; w < cnt; w++)
        {
            int i = _aItems[g0 + w];
            int blk = i / wb, lane = i - blk * wb;
            int qo = blk * d * wb + lane, mo = blk * n * wb + lane;
            for (int j = 0; j < d; j++) S.GQt[j * wb + w] = _cQt[qo + j * wb];
            for (int y = 0; y < n; y++) S.GMq[y * wb + w] = _cMq[mo + y * wb];
        }
    }

    /// <inheritdoc/>
    /// <remarks>
    /// Per user, the logits of all items are one small GEMM: with s = p⊙q, s·K = q·(diag(p)K). The distance
    /// is expanded as D² = ‖p−q‖² + 2(a·(Mp) − a·(Mq)) + aᵀ(MMᵀ)a, with Mq precomputed once per parameter
    /// version for every item and ‖p−q‖² computed directly (no ‖p‖²+‖q‖²−2p·q cancellation). The remaining
    /// cancellation is absolute, of order 1e-7·‖r‖², below float resolution of typical distances; the
    /// ε of sqrt-L2 bounds its relative effect on D. L1, and <see cref="FusedOptions.ExactRelationScoring"/>,
    /// form r explicitly. Work is split into (user, 32-block item segment) items; memory is bounded by the
    /// item-side cache (items × (d + N) floats) plus the caller's output.
    /// </remarks>
    public void ScoreAllItems(ReadOnlySpan<int> users, Span<float> scores)
    {
        if (scores.Length < (long)users.Length * _items)
            throw new ArgumentException($"scores needs {users.Length} × {_items} floats (got {scores.Length}).");
        for (int x = 0; x < users.Length; x++)
            if ((uint)users[x] >= (uint)_users) throw new ArgumentOutOfRangeException(nameof(users), $"users[{x}] = {users[x]} outside [0, {_users}).");
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            CatchUpAll();
            EnsureScoreCache();
            fixed (int* pu = users) fixed (float* ps = scores)
            {
                _aUsers = pu; _aOut = ps; _aCount = users.Length;
                _aSegs = (_blocks + ScoreSegmentBlocks - 1) / ScoreSegmentBlocks;
                _scoreWork.Mode = ScoreMode.AllItems;
                _pool.Run(_scoreWork, users.Length * _aSegs);
                _aUsers = null; _aOut = null;
            }
        }
    }

    private void EnsureScoreCache()
    {
        if (_cacheVersion == _version) return;
        _wb = 2 * W;
        _blocks = (_items + _wb - 1) / _wb;
        long qtLen = (long)_blocks * _d * _wb, mqLen = (long)_blocks * _n * _wb;
        if (_cQt.LongLength != qtLen) { _cQt = new float[qtLen]; _cMq = new float[mqLen]; }
        _cK = KtToK(_kt);
        // G = M Mᵀ (N × N)
        if (_cG.Length != _n * _n) _cG = new float[_n * _n];
        for (int x = 0; x < _n; x++)
            for (int y = 0; y < _n; y++)
                _cG[x * _n + y] = Dot(ref At(_m, (nint)x * _dp), ref At(_m, (nint)y * _dp), _dp);
        _scoreWork.Mode = ScoreMode.BuildCache;
        _pool.Run(_scoreWork, _blocks);
        _cacheVersion = _version;
    }

    private void BuildCacheBlock(int blk)
    {
        int wb = _wb, d = _d, n = _n, dp = _dp;
        Span<float> qh = stackalloc float[dp];
        ref float qhr = ref qh[0];
        nint qt0 = (nint)blk * d * wb, mq0 = (nint)blk * n * wb;
        for (int w = 0; w < wb; w++)
        {
            int i = blk * wb + w;
            if (i >= _items)
            {
                for (int j = 0; j < d; j++) _cQt[qt0 + j * wb + w] = 0f;
                for (int y = 0; y < n; y++) _cMq[mq0 + y * wb + w] = 0f;
                continue;
            }
            LoadRow(ref At(_q, (nint)i * dp), ref qhr);
            for (int j = 0; j < d; j++) _cQt[qt0 + j * wb + w] = qh[j];
            for (int y = 0; y < n; y++) _cMq[mq0 + y * wb + w] = Dot(ref At(_m, (nint)y * dp), ref qhr, dp);
        }
    }

    private void ScoreSegment(int item, int worker)
    {
        int x = item / _aSegs, seg = item % _aSegs;
        var S = SScratch(worker);
        PrepareUser(S, _aUsers[x]);
        int d = _d, n = _n, wb = _wb;
        int b0 = seg * ScoreSegmentBlocks, b1 = Math.Min(_blocks, b0 + ScoreSegmentBlocks);
        float* outRow = _aOut + (long)x * _items;
        for (int blk = b0; blk < b1; blk++)
        {
            ScoreBlock(S, ref At(_cQt, (nint)blk * d * wb), ref At(_cMq, (nint)blk * n * wb));
            int i0 = blk * wb, cnt = Math.Min(wb, _items - i0);
            new ReadOnlySpan<float>(S.Out, 0, cnt).CopyTo(new Span<float>(outRow + i0, cnt));
        }
    }

    /// <summary>Per-user work of the blocked scoring path: p̂ (clipped), Ku = diag(p̂)·K / τ (d × N), Mp = M·p̂.</summary>
    private void PrepareUser(ScoreScratch S, int u)
    {
        int d = _d, n = _n, dp = _dp;
        ref float ph = ref Ref(S.Ph);
        LoadRow(ref At(_p, (nint)u * dp), ref ph);
        for (int j = 0; j < d; j++)
        {
            float pj = _invTemperature == 1f ? S.Ph[j] : S.Ph[j] * _invTemperature;
            for (int y = 0; y < n; y++) S.Ku[j * n + y] = pj * _cK[j * n + y];
        }
        for (int y = 0; y < n; y++) S.Mp[y] = Dot(ref At(_m, (nint)y * dp), ref ph, dp);
    }

    /// <summary>
    /// Scores of one block of wb items for the prepared user into S.Out: qt is the items' q̂ transposed
    /// (d × wb), mq their M·q̂ (N × wb). Logits by a register-tiled GEMM, softmax vectorised over items, then
    /// the expanded distance (or r formed explicitly for L1 / exact mode).
    /// </summary>
    private void ScoreBlock(ScoreScratch S, ref float qt, ref float mq)
    {
        int d = _d, n = _n, wb = _wb, vw = W;
        ref float L = ref Ref(S.L);
        float eps = _cfg.DistanceEpsilon;
        Logits(ref qt, ref Ref(S.Ku), ref L, d, n, wb);
        // ‖p − q‖² per item
        for (int v = 0; v < wb; v += vw)
        {
            var acc = Vector<float>.Zero;
            for (int j = 0; j < d; j++)
            {
                var df = Ld(ref qt, (nint)j * wb + v) - new Vector<float>(S.Ph[j]);
                acc = Fma(df, df, acc);
            }
            St(acc, ref Ref(S.Pq), v);
        }
        // softmax over slots, vectorised over items
        for (int v = 0; v < wb; v += vw)
        {
            var mx = Ld(ref L, v);
            for (int y = 1; y < n; y++) mx = Vector.Max(mx, Ld(ref L, (nint)y * wb + v));
            var sum = Vector<float>.Zero;
            for (int y = 0; y < n; y++)
            {
                var e = Vector.Exp(Ld(ref L, (nint)y * wb + v) - mx);
                St(e, ref L, (nint)y * wb + v);
                sum += e;
            }
            for (int y = 0; y < n; y++) St(Ld(ref L, (nint)y * wb + v) / sum, ref L, (nint)y * wb + v);
        }
        if (_cfg.Distance == LrmlDistance.L1 || _opt.ExactRelationScoring) { ScoreExplicit(S, ref qt, ref L, d, n, wb, eps); return; }
        for (int v = 0; v < wb; v += vw)
        {
            var t1 = Vector<float>.Zero; var t2 = Vector<float>.Zero;
            for (int y = 0; y < n; y++)
            {
                var ay = Ld(ref L, (nint)y * wb + v);
                t1 = Fma(ay, new Vector<float>(S.Mp[y]) - Ld(ref mq, (nint)y * wb + v), t1);
                var gy = Vector<float>.Zero;
                for (int z = 0; z < n; z++) gy = Fma(new Vector<float>(_cG[y * n + z]), Ld(ref L, (nint)z * wb + v), gy);
                t2 = Fma(ay, gy, t2);
            }
            var d2 = Vector.Max(Ld(ref Ref(S.Pq), v) + (t1 + t1) + t2, Vector<float>.Zero);
            var score = _cfg.Distance == LrmlDistance.SqrtL2 ? -Vector.SquareRoot(d2 + new Vector<float>(eps)) : -d2;
            St(score, ref Ref(S.Out), v);
        }
    }

    /// <summary>Scores of one item block with r = a·M formed explicitly (L1, or exact mode).</summary>
    private void ScoreExplicit(ScoreScratch S, ref float qt, ref float L, int d, int n, int wb, float eps)
    {
        int vw = W, dp = _dp;
        for (int v = 0; v < wb; v += vw)
        {
            var acc = Vector<float>.Zero;
            for (int j = 0; j < d; j++)
            {
                var r = Vector<float>.Zero;
                for (int y = 0; y < n; y++) r = Fma(Ld(ref L, (nint)y * wb + v), new Vector<float>(_m[y * dp + j]), r);
                var df = new Vector<float>(S.Ph[j]) + r - Ld(ref qt, (nint)j * wb + v);
                acc = _cfg.Distance == LrmlDistance.L1 ? acc + Vector.Abs(df) : Fma(df, df, acc);
            }
            var score = _cfg.Distance switch
            {
                LrmlDistance.SqrtL2 => -Vector.SquareRoot(acc + new Vector<float>(eps)),
                _ => -acc,
            };
            St(score, ref Ref(S.Out), v);
        }
    }

    /// <summary>L[y][w] = Σ_j Ku[j][y] · QT[j][w] for one block of wb = 2·W items (register tile 4 slots × 2 vectors).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Logits(ref float qt, ref float ku, ref float L, int d, int n, int wb)
    {
        int vw = Vector<float>.Count;
        int y = 0;
        for (; y + 4 <= n; y += 4)
        {
            Vector<float> c00 = default, c01 = default, c10 = default, c11 = default,
                          c20 = default, c21 = default, c30 = default, c31 = default;
            ref float kr = ref Unsafe.Add(ref ku, y);
            for (int j = 0; j < d; j++)
            {
                nint o = (nint)j * wb;
                var q0 = Ld(ref qt, o); var q1 = Ld(ref qt, o + vw);
                ref float kj = ref Unsafe.Add(ref kr, (nint)j * n);
                var k0 = new Vector<float>(kj); var k1 = new Vector<float>(Unsafe.Add(ref kj, 1));
                var k2 = new Vector<float>(Unsafe.Add(ref kj, 2)); var k3 = new Vector<float>(Unsafe.Add(ref kj, 3));
                c00 = Fma(k0, q0, c00); c01 = Fma(k0, q1, c01);
                c10 = Fma(k1, q0, c10); c11 = Fma(k1, q1, c11);
                c20 = Fma(k2, q0, c20); c21 = Fma(k2, q1, c21);
                c30 = Fma(k3, q0, c30); c31 = Fma(k3, q1, c31);
            }
            nint b = (nint)y * wb;
            St(c00, ref L, b); St(c01, ref L, b + vw);
            St(c10, ref L, b + wb); St(c11, ref L, b + wb + vw);
            St(c20, ref L, b + 2 * wb); St(c21, ref L, b + 2 * wb + vw);
            St(c30, ref L, b + 3 * wb); St(c31, ref L, b + 3 * wb + vw);
        }
        for (; y < n; y++)
        {
            Vector<float> c0 = default, c1 = default;
            for (int j = 0; j < d; j++)
            {
                nint o = (nint)j * wb;
                var k0 = new Vector<float>(Unsafe.Add(ref ku, (nint)j * n + y));
                c0 = Fma(k0, Ld(ref qt, o), c0); c1 = Fma(k0, Ld(ref qt, o + vw), c1);
            }
            St(c0, ref L, (nint)y * wb); St(c1, ref L, (nint)y * wb + vw);
        }
    }
}
