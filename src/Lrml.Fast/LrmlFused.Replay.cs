using System.Numerics;
using static Lrml.Fast.FusedMath;

using Lrml.Models;

namespace Lrml.Fast;

public sealed unsafe partial class LrmlFused
{
    /// <summary>
    /// Exact Adam without L2 on large tables: instead of sweeping P, Q and both moments through memory at every step (dense
    /// Adam moves every row; a row no example touched with the gradient clip(0·θ)·scale), every row records the step its
    /// state is at, and a row that owes steps replays them just before a step reads it (<see cref="Replay"/>: the sweep's own
    /// update of an untouched row, with each owed step's factors and gradient scale, so the same bits); every row catches up
    /// before anything else reads the tables (scoring, explanations, export, state, parameter checks). An untouched row's
    /// update depends on nothing but its own state and the step's factors when L2 = 0 (with L2 its gradient λθ enters the
    /// step's norm clip through every row at once), so this is the sweep with its work moved in time. On by default above
    /// <see cref="EmbeddingEngine.ReplayMinBytes"/> (the ML-20M and Netflix shapes), where the sweep streams tables larger than
    /// the caches through memory at every step; as in the shared engine. Settable for tests: switching catches every row up.
    /// </summary>
    internal bool ReplayUnreadRows
    {
        get => _atU is not null;
        set
        {
            lock (_gate)
            {
                if (value == (_atU is not null)) return;
                if (value && !CanReplay) throw new InvalidOperationException("Only exact Adam without L2 replays unread rows.");
                CatchUpAll();
                if (value) { _atU = new long[_users]; _atI = new long[_items]; ResetOwedSteps(); }
                else _atU = _atI = null;
            }
        }
    }

    private bool CanReplay => _cfg.Optimizer == OptimizerKind.Adam && _cfg.L2 == 0f;

    /// <summary>Whether a step sweeps every row of P and Q (dense optimiser semantics, not replaying).</summary>
    private bool SweepsEveryStep => UsesDenseSweep && _atU is null;

    /// <summary>After this many steps since every row last caught up, every row does (bounds the factors kept; settable for tests).</summary>
    internal int OwedStepLimit { get; set; } = 1 << 16;

    /// <summary>What an untouched row's update at one step depends on besides the row and Adam's factors (kept apart, in
    /// <see cref="_owedF"/>, for EmbeddingEngine.ZeroGradientAdamSteps): the norm clip's scales.</summary>
    private readonly record struct OwedStep(float ScaleP, float ScaleQ);

    private long[]? _atU, _atI;                         // the step each user / item row's state is at
    private OwedStep[] _owed = new OwedStep[256];       // steps _owedFrom, _owedFrom + 1, …, _step: their scales
    private StepFactors[] _owedF = new StepFactors[256]; // and their factors
    private long _owedFrom = 1;
    private OwedRows? _oweList;
    private OwedRows OwedRows => _oweList ??= new OwedRows(
        (u, r) => EmbeddingEngine.PrefetchRow(u ? _p : _q, u ? _p1 : _q1, u ? _p2 : _q2, (long)r * _dp, _dp), Replay);

    /// <summary>Keeps step _step's factors and scales for the rows that owe it (called once the step's scales are known).</summary>
    private void RecordOwedStep()
    {
        if (_atU is null) return;
        long i = _step - _owedFrom;
        if (i >= _owed.Length)
        {
            Array.Resize(ref _owed, (int)Math.Max(i + 1, Math.Min(2L * _owed.Length, OwedStepLimit)));
            Array.Resize(ref _owedF, _owed.Length);
        }
        _owed[i] = new OwedStep(_scaleP, _scaleQ);
        _owedF[i] = _factors;
    }

    /// <summary>Before a step reads the batch: its users and items (and WARP's drawn items) catch up to the current step, in
    /// parallel.</summary>
    private void CatchUpBatch()
    {
        if (_atU is null) return;
        var batch = _batch!;
        int b = _b, k = _k;
        var drawn = _warp is null ? null : LastWarpNegatives;
        var owe = OwedRows;
        owe.Begin(_step, b * (k + 2) + (drawn?.Length ?? 0));
        for (int x = 0; x < b; x++) owe.Owe(batch.Users[x], _atU);
        owe.EndUsers();
        for (int x = 0; x < b; x++) owe.Owe(batch.Positives[x], _atI!);
        for (int x = 0; x < b * k; x++) owe.Owe(batch.Negatives[x], _atI!);
        if (drawn is not null) for (int x = 0; x < drawn.Length; x++) owe.Owe(drawn[x], _atI!);
        if (owe.Blocks > 0)
        {
            _stepWork.Phase = StepPhase.CatchUp;
            _pool.Run(_stepWork, owe.Blocks);
        }
    }

    /// <summary>After a training step has updated them: the batch's users and items are at the new step (marked only then, so a
    /// step that throws leaves them owing it, as rows it did not reach).</summary>
    private void MarkTouchedRows()
    {
        if (_atU is null) return;
        for (int s = 0; s < _nu; s++) _atU[_uniqU[s]] = _step;
        for (int s = 0; s < _ni; s++) _atI![_uniqI[s]] = _step;
    }

    /// <summary>Every row catches up to the current step (before anything but a training step reads the tables).</summary>
    private void CatchUpAll()
    {
        if (_atU is null || _owedFrom == _step + 1) return;   // no step since every row last caught up
        ObjectDisposedException.ThrowIf(_disposed, this);
        OwedRows.Begin(_step, 0);
        _denseBlocksU = (_users + DenseBlock - 1) / DenseBlock;
        _denseBlocksI = (_items + DenseBlock - 1) / DenseBlock;
        _stepWork.Phase = StepPhase.CatchUpAll;
        _pool.Run(_stepWork, _denseBlocksU + _denseBlocksI);
        _owedFrom = _step + 1;
    }

    private void RunCatchUpAll(int item)
    {
        bool user = item < _denseBlocksU;
        int blk = user ? item : item - _denseBlocksU;
        int r0 = blk * DenseBlock, r1 = Math.Min(user ? _users : _items, r0 + DenseBlock);
        OwedRows.CatchUpRange(user, r0, r1, user ? _atU! : _atI!);
    }

    /// <summary>Steps from + 1 … to of one row no step read: the dense sweep's update of an untouched row (RunUpdate),
    /// call for call with each step's factors and scale, so the row ends with the sweep's bits.</summary>
    private void Replay(bool user, int r, long from, long to)
    {
        nint o = (nint)r * _dp;
        ref float w = ref At(user ? _p : _q, o);
        ref float m1 = ref At(user ? _p1! : _q1!, o), m2 = ref At(user ? _p2! : _q2!, o);
        float cv = _cfg.GradClipValue;
        // the guard (finite weights, no −0 first moment) is re-checked only after a step that may have moved a weight: a
        // zero-gradient step never makes a −0 moment (β₁m rounds to 0 only from ±0, and ±0 + (+0) is +0)
        bool plain = ZeroGradientShortcut && ZeroGradientActsAsPlusZero(ref w, ref m1, _dp);
        if (plain && to - from > 1 && StaysPlain(ref w, ref m1, ref m2, _dp, _cfg.LearningRate))
        {
            // every owed step takes ZeroGradientAdam below: all of them at once, each vector in registers (the same bits)
            EmbeddingEngine.ZeroGradientAdamSteps(_owedF.AsSpan((int)(from + 1 - _owedFrom), (int)(to - from)), ref w, ref m1, ref m2, _dp);
            return;
        }
        for (long s = from + 1; s <= to; s++)
        {
            ref readonly var step = ref _owed[s - _owedFrom];
            ref readonly var f = ref _owedF[s - _owedFrom];
            if (!plain) UpdateUntouched(ref w, ref m1, ref m2, 0f, cv, user ? step.ScaleP : step.ScaleQ, _dp, f);
            else if (EmbeddingEngine.ZeroGradientAdam(f, ref w, ref m1, ref m2, _dp)) plain = ZeroGradientActsAsPlusZero(ref w, ref m1, _dp);
        }
    }

    /// <summary>
    /// Whether a row whose gradient acts as +0 keeps acting so through any number of zero-gradient steps (fewer than 2³¹),
    /// so that <see cref="Replay"/> would take <see cref="EmbeddingEngine.ZeroGradientAdam"/> at every one: every |w| &lt; 2¹⁰⁰,
    /// every |m| &lt; 2⁴⁰ (no NaN), every v in [+0, +∞] (its bits), and 0 &lt; lr ≤ 2¹⁰. Then |m′| ≤ |m| (β₁m + 0 rounds towards no
    /// larger magnitude), v′ = β₂v stays in [+0, +∞], so den ≥ ε, and a step moves a weight by less than 2⁸¹ (s = lr/(1 − β₁ᵗ)
    /// ≤ 10.01·lr &lt; 2¹⁴, |m′|/ε &lt; 2⁴⁰·2²⁷, each operation rounding by at most a factor 1 + 2⁻²³): after fewer than 2³¹
    /// steps, each subtraction rounding too, |w| &lt; 2¹¹⁵, finite; and no zero-gradient step makes a −0 moment. So the guard
    /// (<see cref="ZeroGradientActsAsPlusZero"/>) holds after every step without re-checking.
    /// </summary>
    private static bool StaysPlain(ref float w, ref float m1, ref float m2, int len, float lr)
    {
        if (lr is not (> 0f and <= 1024f)) return false;   // (validated positive and finite already; the proof needs it)
        var wMax = new Vector<float>(1.2676506e30f); var mMax = new Vector<float>(1.0995116e12f);   // 2¹⁰⁰, 2⁴⁰
        var vMax = new Vector<uint>(0x7F800000u);
        for (int i = 0; i < len; i += Vector<float>.Count)
            if (!Vector.LessThanAll(Vector.Abs(Ld(ref w, i)), wMax) || !Vector.LessThanAll(Vector.Abs(Ld(ref m1, i)), mMax)
                || !Vector.LessThanOrEqualAll(Vector.AsVectorUInt32(Ld(ref m2, i)), vMax)) return false;
        return true;
    }

    /// <summary>A loaded state is whole: no row owes a step.</summary>
    private void ResetOwedSteps()
    {
        if (_atU is null) return;
        Array.Fill(_atU, _step); Array.Fill(_atI!, _step);
        _owedFrom = _step + 1;
    }
}
