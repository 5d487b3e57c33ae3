using System.Diagnostics;
using Lrml.Models;
using Lrml.Protocols;
using Lrml.Util;

namespace Lrml.Training;

/// <summary>What the trainer reports after each epoch (one JSON line of the epoch log).</summary>
/// <param name="Epoch">1-based epoch.</param>
/// <param name="Loss">Sum of batch losses over the epoch.</param>
/// <param name="MeanLoss">Loss per training positive.</param>
/// <param name="TrainSeconds">Wall time of the optimisation part of the epoch (sampling included).</param>
/// <param name="EvalSeconds">Wall time of the validation evaluation (0 when not evaluated).</param>
/// <param name="Validation">Validation metrics, or null when this epoch was not evaluated.</param>
/// <param name="IsBest">Whether this epoch became the best so far.</param>
/// <param name="Steps">Optimiser steps in this epoch.</param>
public sealed record EpochRecord(int Epoch, double Loss, double MeanLoss, double TrainSeconds, double EvalSeconds,
    IReadOnlyDictionary<string, double>? Validation, bool IsBest, int Steps)
{
    /// <summary>Measurements of the model at the end of the epoch from <see cref="Trainer.EpochDiagnostics"/> (e.g. LRML's
    /// memory usage, <see cref="MemoryUsage.Keys"/>), or null. NaN means "not measured" (e.g. gradients of a frozen memory).</summary>
    public IReadOnlyDictionary<string, double>? Diagnostics { get; init; }
}

/// <summary>Live progress inside an epoch (for progress bars).</summary>
public readonly record struct TrainProgress(int Epoch, int MaxEpochs, int Step, int StepsPerEpoch, double LossSoFar, int Seen);

/// <summary>The result of <see cref="Trainer.Fit"/>.</summary>
public sealed class TrainingOutcome
{
    public required IReadOnlyList<EpochRecord> Epochs { get; init; }
    /// <summary>Epoch whose parameters the model holds after Fit (best validation epoch, or the last one).</summary>
    public required int BestEpoch { get; init; }
    /// <summary>Best validation value of <see cref="TrainConfig.ValidationMetric"/>, NaN when never evaluated.</summary>
    public required double BestValidation { get; init; }
    /// <summary>Training wall time summed over epochs (excluding validation).</summary>
    public required double TrainSeconds { get; init; }
    /// <summary>Validation wall time summed over epochs.</summary>
    public required double EvalSeconds { get; init; }
    /// <summary>Whether early stopping ended the run before the epoch budget.</summary>
    public required bool StoppedEarly { get; init; }
    /// <summary>Whether the caller's cancellation ended the run at an epoch boundary (the model holds the best epoch so far).</summary>
    public bool Cancelled { get; init; }
}

/// <summary>
/// Training diverged: a loss or parameter became NaN or infinite, a parameter exploded, or the loss rose far above its
/// initial level (<see cref="DivergenceRules"/>). <see cref="Step"/> is the first step found bad. The model is left at
/// the last good state (the best checkpoint when one exists).
/// </summary>
public sealed class TrainingDivergedException(int epoch, int step, string message) : Exception(message)
{
    public int Epoch { get; } = epoch;
    public int Step { get; } = step;
}

/// <summary>
/// When the trainer calls a run diverged although every number is still finite. Both rules compare the run with itself
/// at its start, so they hold whatever the model's loss scale; the bounds are far outside anything a healthy run of the
/// kit's presets reaches (measured: see the README, "Reliability").
/// <list type="bullet">
/// <item>Loss: an epoch whose mean loss per training positive exceeds <see cref="LossFactor"/> × max(the loss per positive
/// of the run's first step, <see cref="LossFloor"/>). The step reported is the first step of that epoch whose own loss
/// per positive exceeded the bound (a single noisy batch above it does not stop a run whose epoch mean stays below).</item>
/// <item>Parameters: the largest |parameter| exceeds <see cref="ParameterFactor"/> × max(its value at initialisation, 1),
/// or is NaN/∞. It is checked at every epoch end and before every checkpoint; when it fails, the trainer replays the
/// steps since the last good state with a check after each one, so the step reported is the first bad one.</item>
/// </list>
/// </summary>
internal static class DivergenceRules
{
    /// <summary>How far above its initial level the epoch's loss per positive may go.</summary>
    public const double LossFactor = 1000;
    /// <summary>Floor of the loss reference, so a run starting at a near-zero loss is not stopped for a normal rise.</summary>
    public const double LossFloor = 0.1;
    /// <summary>How far above its initial scale the largest |parameter| may go.</summary>
    public const double ParameterFactor = 1e4;

    /// <summary>The loss bound per training positive for a run whose first step had <paramref name="initialLoss"/> per positive.</summary>
    public static double LossBound(double initialLoss) => LossFactor * Math.Max(double.IsFinite(initialLoss) ? initialLoss : 0, LossFloor);

    /// <summary>The bound on the largest |parameter| for a model that started at <paramref name="initialMaxAbs"/>.</summary>
    public static double ParameterBound(double initialMaxAbs) => ParameterFactor * Math.Max(double.IsFinite(initialMaxAbs) ? initialMaxAbs : 0, 1);
}

/// <summary>
/// The training loop shared by every pairwise and pointwise model: each epoch shuffles the training
/// positives (seeded), pairs every positive with uniformly sampled negatives the user never trained on
/// (seeded, <see cref="NegativeSampler"/>), feeds mini-batches to <see cref="ITrainableRecommender.TrainStep"/>,
/// evaluates on the validation split, keeps the best state, and stops early when the validation metric
/// stalls. Shuffling and sampling draw from their own <see cref="Rng"/> streams of the run seed, so a seed
/// fixes the batches whatever the model.
/// </summary>
public sealed class Trainer
{
    private readonly TrainConfig _config;

    public Trainer(TrainConfig config)
    {
        config.Validate();
        _config = config;
    }

    /// <summary>Raised after every epoch (e.g. to append to the epoch log).</summary>
    public event Action<EpochRecord>? EpochCompleted;

    /// <summary>Raised when a new best state exists (e.g. to write the best checkpoint).</summary>
    public event Action<int, byte[]>? NewBest;

    /// <summary>Raised with a full resumable checkpoint at the end of every epoch and, when
    /// <see cref="CheckpointEverySteps"/> &gt; 0, every that many batches inside an epoch.</summary>
    public event Action<TrainerCheckpoint>? Checkpoint;

    /// <summary>Mid-epoch checkpoint interval in batches (0 = only at epoch ends).</summary>
    public int CheckpointEverySteps { get; set; }

    /// <summary>Progress inside epochs, at most every few batches.</summary>
    public IProgress<TrainProgress>? Progress { get; set; }

    /// <summary>Optional measurements of the model after each epoch's last step (before validation), stored in
    /// <see cref="EpochRecord.Diagnostics"/>. It must not change the model or draw from the run's random streams.</summary>
    public Func<ITrainableRecommender, IReadOnlyDictionary<string, double>?>? EpochDiagnostics { get; set; }

    /// <summary>
    /// Trains <paramref name="model"/> on <paramref name="train"/>. <paramref name="validate"/> returns the
    /// validation metrics of the model's current parameters (null: no validation; the last epoch is kept).
    /// With <paramref name="resume"/>, continues a run from its checkpoint: the result is identical to the
    /// uninterrupted run (bit for bit for engines that are deterministic for a thread count). On return the
    /// model holds the best epoch's state.
    /// <para><paramref name="cancel"/> is honoured at epoch boundaries: once an epoch has finished, cancelling stops the run
    /// before the next one and returns normally with <see cref="TrainingOutcome.Cancelled"/> set, the model holding the best
    /// epoch so far (its checkpoint was already raised through <see cref="NewBest"/>); cancelled before the first epoch,
    /// Fit throws <see cref="OperationCanceledException"/> (nothing to keep).</para>
    /// </summary>
    public TrainingOutcome Fit(ITrainableRecommender model, UserItems train,
        Func<IRecommender, IReadOnlyDictionary<string, double>>? validate, CancellationToken cancel = default,
        TrainerCheckpoint? resume = null)
    {
        var c = _config;
        var run = new FitRun(this, model, train, resume); // seeded streams and batches; the checkpoint's state restored
        bool stoppedEarly = false, cancelled = false;
        for (int epoch = run.FirstEpoch; epoch <= c.Epochs; epoch++)
        {
            if (cancel.IsCancellationRequested)
            {
                if (run.Epochs.Count == 0) cancel.ThrowIfCancellationRequested();
                cancelled = true;
                break;
            }
            var e = run.BeginEpoch(epoch); // a fresh shuffled order; a resumed epoch goes on from its checkpointed step
            for (int start = e.Step * run.BatchSize; start < run.Pairs; start += run.BatchSize)
            {
                double loss = run.Step(start);
                run.AfterStep(e, start, loss); // divergence check, progress, in-epoch checkpoint
            }
            model.EndEpoch(epoch);
            run.EndTraining(e); // divergence check of the parameters and the epoch's loss; the epoch's training time
            var diagnostics = EpochDiagnostics?.Invoke(model);

            IReadOnlyDictionary<string, double>? metrics = null;
            bool isBest = false;
            bool evaluate = validate is not null && c.EvalEvery > 0 && (epoch % c.EvalEvery == 0 || epoch == c.Epochs);
            if (evaluate)
            {
                (metrics, double value) = run.Validate(e, validate!);
                isBest = run.Stopper.Observe(epoch, value);
                if (isBest) run.KeepBest(epoch);
            }
            else if (validate is null || c.EvalEvery == 0)
            {
                run.BestEpoch = epoch; // no validation: the last epoch is the result
            }

            var record = new EpochRecord(epoch, e.LossSum, e.LossSum / run.Pairs, e.TrainSeconds, e.EvalSeconds, metrics, isBest, e.Step)
                { Diagnostics = diagnostics };
            run.Epochs.Add(record);
            EpochCompleted?.Invoke(record);
            bool stop = evaluate && c.Patience > 0 && run.Stopper.ShouldStop && epoch < c.Epochs && epoch >= c.MinEpochs;
            run.CheckpointEpochEnd(epoch);
            if (stop) { stoppedEarly = true; break; }
        }
        return run.Outcome(stoppedEarly, cancelled);
    }

    /// <summary>A number for a message: plain up to a million, else in exponent form (1e+06 reads worse than 1e+6).</summary>
    private static string Num(double v) => Math.Abs(v) is >= 1e-3 and < 1e6 || v == 0
        ? v.ToString("0.###", System.Globalization.CultureInfo.InvariantCulture)
        : v.ToString("0.##e+0", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Where <see cref="Fit"/> is inside the epoch it is training.</summary>
    private sealed class EpochState(int epoch, ulong[] shuffleStateAtStart)
    {
        public int Epoch { get; } = epoch;
        /// <summary>The shuffle stream's state before this epoch's order was drawn (a checkpoint rebuilds the order from it).</summary>
        public ulong[] ShuffleStateAtStart { get; } = shuffleStateAtStart;
        public Stopwatch Clock { get; } = Stopwatch.StartNew();
        /// <summary>Batches applied so far.</summary>
        public int Step;
        public double LossSum;
        /// <summary>Training seconds of this epoch spent before the run was resumed.</summary>
        public double CarriedSeconds;
        /// <summary>First step whose loss per positive exceeded the divergence bound (0: none).</summary>
        public int LossBreach;
        public double TrainSeconds, EvalSeconds;
    }

    /// <summary>
    /// The bookkeeping of one <see cref="Fit"/> call, beside its loop: the batches (seeded shuffle and negatives), the state
    /// restored from a checkpoint, the best state, checkpoints, and divergence detection with its step-by-step replay.
    /// </summary>
    private sealed class FitRun
    {
        private readonly Trainer _trainer;
        private readonly TrainConfig _c;
        private readonly ITrainableRecommender _model;
        private readonly TrainerCheckpoint? _resume;

        // the batches: every training positive once per epoch, in an order drawn from the shuffle stream
        private readonly NegativeSampler _sampler;
        private readonly int[] _pairUsers, _pairItems, _order;
        private readonly TrainingBatch _batch;
        private readonly Rng _shuffleRng, _negativeRng;
        public int Pairs { get; }
        public int BatchSize { get; }
        private readonly int _stepsPerEpoch;

        // the run so far
        public int FirstEpoch { get; private set; } = 1;
        public EarlyStopping Stopper { get; }
        public List<EpochRecord> Epochs { get; } = [];
        public int BestEpoch;
        private byte[]? _bestState;
        private double _trainSeconds, _evalSeconds;

        // divergence: the references of the rules, and the last state known to be good, from which a failed parameter
        // check is replayed step by step
        private double _initialLoss = double.NaN, _initialMaxAbs = double.NaN;
        private double _lossBound, _parameterBound;
        private byte[] _replayState;
        private ulong[] _replayNegatives;
        private int _replayStep;
        private byte[]? _endState; // the state saved at the last epoch end, which is the next epoch's start

        public FitRun(Trainer trainer, ITrainableRecommender model, UserItems train, TrainerCheckpoint? resume)
        {
            if (train.NumUsers != model.NumUsers || train.NumItems != model.NumItems)
                throw new ArgumentException($"Model shape {model.NumUsers}×{model.NumItems} differs from the training data {train.NumUsers}×{train.NumItems}.");
            if (train.Count == 0) throw new ArgumentException("The training split is empty.");
            (_trainer, _c, _model, _resume) = (trainer, trainer._config, model, resume);
            ComputeThreads.Set(_c.Threads);
            _sampler = new NegativeSampler(train);
            (_pairUsers, _pairItems) = train.ToPairs();
            Pairs = _pairUsers.Length;
            _order = new int[Pairs];
            _shuffleRng = new Rng(_c.Seed, "trainer.shuffle");
            _negativeRng = new Rng(_c.Seed, "trainer.negatives");
            // a batch larger than the training set is the training set: never allocate more than it
            BatchSize = (int)Math.Min(_c.BatchSize, (long)Pairs);
            _batch = new TrainingBatch(BatchSize, _c.NegativesPerPositive);
            _stepsPerEpoch = (int)((Pairs + (long)BatchSize - 1) / BatchSize);
            Stopper = new EarlyStopping(Math.Max(1, _c.Patience));
            if (resume is not null) Restore(resume);
            if (double.IsNaN(_initialMaxAbs)) _initialMaxAbs = model.MaxAbsParameter();
            _parameterBound = DivergenceRules.ParameterBound(_initialMaxAbs);
            _lossBound = DivergenceRules.LossBound(_initialLoss);
            _replayState = resume?.ModelState ?? model.SaveState();
            _replayNegatives = _negativeRng.GetState();
            _replayStep = resume?.Step ?? 0;
        }

        private void Restore(TrainerCheckpoint r)
        {
            _model.LoadState(r.ModelState);
            _shuffleRng.SetState(r.ShuffleStateAtEpochStart);
            _negativeRng.SetState(r.NegativeState);
            Stopper.Restore(r.BestValue, r.BestEpoch, r.BadEvaluations);
            Epochs.AddRange(r.Epochs);
            (_bestState, BestEpoch, _trainSeconds, _evalSeconds) = (r.BestState, r.BestEpoch, r.TrainSeconds, r.EvalSeconds);
            FirstEpoch = r.Epoch;
            (_initialLoss, _initialMaxAbs) = (r.InitialLoss, r.InitialMaxAbs);
            // a checkpoint from before the references were recorded: the first epoch's mean loss and the resumed state
            if (double.IsNaN(_initialLoss) && Epochs.Count > 0) _initialLoss = Epochs[0].MeanLoss;
            if (r.Step == 0 && Epochs.Count > 0 && _c.Patience > 0 && Stopper.ShouldStop && Epochs[^1].Epoch >= _c.MinEpochs)
                FirstEpoch = _c.Epochs + 1; // the interrupted run had already decided to stop
        }

        /// <summary>Starts an epoch: its order is a fresh permutation drawn from the shuffle stream, so a checkpoint needs
        /// only the stream's state at the epoch start to rebuild it. The resumed epoch goes on from its checkpoint.</summary>
        public EpochState BeginEpoch(int epoch)
        {
            var e = new EpochState(epoch, _shuffleRng.GetState());
            for (int x = 0; x < Pairs; x++) _order[x] = x;
            if (_c.Shuffle) _shuffleRng.Shuffle(_order.AsSpan());
            if (epoch == FirstEpoch && _resume is { Step: > 0 } r)
                (e.Step, e.LossSum, e.CarriedSeconds, e.LossBreach) = (r.Step, r.EpochLossSoFar, r.EpochSecondsSoFar, r.LossBreachStep);
            else if (epoch != FirstEpoch)
                MarkGood(_endState ?? _model.SaveState(), 0);
            return e;
        }

        /// <summary>One optimiser step on the batch starting at position <paramref name="start"/> of the epoch's order.</summary>
        public double Step(int start)
        {
            int count = BatchCount(start);
            for (int b = 0; b < count; b++)
            {
                // the pairs are read in shuffled order: fetch a few ahead (big sets do not fit in the caches)
                if (b + 16 < count) { int ahead = _order[start + b + 16]; CacheHint.Prefetch(_pairUsers, ahead); CacheHint.Prefetch(_pairItems, ahead); }
                int idx = _order[start + b];
                _batch.Users[b] = _pairUsers[idx];
                _batch.Positives[b] = _pairItems[idx];
            }
            _batch.Count = count;
            _sampler.Fill(_batch.Users.AsSpan(0, count), _batch.Negatives.AsSpan(0, count * _c.NegativesPerPositive),
                _c.NegativesPerPositive, _negativeRng);
            return _model.TrainStep(_batch);
        }

        private int BatchCount(int start) => (int)Math.Min(BatchSize, (long)Pairs - start);

        /// <summary>Counts the step that trained the batch at <paramref name="start"/>: checks its loss, reports progress,
        /// and writes the in-epoch checkpoint when one is due.</summary>
        public void AfterStep(EpochState e, int start, double loss)
        {
            int count = BatchCount(start);
            e.Step++;
            if (!double.IsFinite(loss)) throw DivergedAfterReplay(e.Epoch, e.Step, $"The loss became {loss}");
            if (double.IsNaN(_initialLoss))
            {
                _initialLoss = loss / count;
                _lossBound = DivergenceRules.LossBound(_initialLoss);
            }
            if (e.LossBreach == 0 && loss / count > _lossBound) e.LossBreach = e.Step;
            e.LossSum += loss;
            bool last = start + count >= Pairs;
            if (_trainer.Progress is { } progress && (e.Step % 16 == 0 || last))
                progress.Report(new TrainProgress(e.Epoch, _c.Epochs, e.Step, _stepsPerEpoch, e.LossSum, start + count));
            if (_trainer.Checkpoint is not null && _trainer.CheckpointEverySteps > 0 && e.Step % _trainer.CheckpointEverySteps == 0 && !last)
                CheckpointInEpoch(e);
        }

        private void CheckpointInEpoch(EpochState e)
        {
            if (ParameterProblem() is string problem) throw DivergedAfterReplay(e.Epoch, e.Step, problem);
            var state = _model.SaveState();
            MarkGood(state, e.Step);
            _trainer.Checkpoint!(Snapshot(e.Epoch, e.Step, e.ShuffleStateAtStart, e.LossSum, e.CarriedSeconds + e.Clock.Elapsed.TotalSeconds,
                state, Stopper.BestEpoch, e.LossBreach));
        }

        /// <summary>Ends the optimisation part of an epoch. A parameter can break in the last step while its loss (computed
        /// before the update) was finite, or explode while the loss stays finite (clipped or saturated losses): such a state
        /// is never validated, checkpointed or kept.</summary>
        public void EndTraining(EpochState e)
        {
            if (ParameterProblem() is string problem) throw DivergedAfterReplay(e.Epoch, e.Step, problem);
            double meanLoss = e.LossSum / Pairs;
            if (meanLoss > _lossBound)
                throw Diverged(e.Epoch, e.LossBreach > 0 ? e.LossBreach : e.Step,
                    $"The loss per training positive rose above {Num(_lossBound)} ({DivergenceRules.LossFactor:N0} × max({Num(_initialLoss)}, " +
                    $"{Num(DivergenceRules.LossFloor)}), its level at the first step)",
                    $" and averaged {Num(meanLoss)} over the epoch");
            e.Clock.Stop();
            e.TrainSeconds = e.CarriedSeconds + e.Clock.Elapsed.TotalSeconds;
            _trainSeconds += e.TrainSeconds;
        }

        /// <summary>The validation metrics of the current parameters and the value of <see cref="TrainConfig.ValidationMetric"/>.</summary>
        public (IReadOnlyDictionary<string, double> Metrics, double Value) Validate(EpochState e,
            Func<IRecommender, IReadOnlyDictionary<string, double>> validate)
        {
            e.Clock.Restart();
            IReadOnlyDictionary<string, double> metrics;
            try { metrics = validate(_model); }
            catch (Lrml.Evaluation.NonFiniteScoreException ex) { throw Diverged(e.Epoch, e.Step, "The model scored NaN in validation (" + ex.Message + ")"); }
            e.Clock.Stop();
            e.EvalSeconds = e.Clock.Elapsed.TotalSeconds;
            _evalSeconds += e.EvalSeconds;
            if (!metrics.TryGetValue(_c.ValidationMetric, out double value))
                throw new ArgumentException($"Validation metric '{_c.ValidationMetric}' is not among the evaluated metrics: {string.Join(", ", metrics.Keys)}.");
            if (double.IsNaN(value)) throw Diverged(e.Epoch, e.Step, $"The validation {_c.ValidationMetric} became NaN");
            return (metrics, value);
        }

        /// <summary>Keeps the current parameters as the best state (and tells <see cref="NewBest"/>).</summary>
        public void KeepBest(int epoch)
        {
            _bestState = _model.SaveState();
            BestEpoch = epoch;
            _trainer.NewBest?.Invoke(epoch, _bestState);
        }

        /// <summary>The resumable checkpoint at the end of an epoch, which is the start of the next one.</summary>
        public void CheckpointEpochEnd(int epoch)
        {
            _endState = null;
            if (_trainer.Checkpoint is null) return;
            _endState = _model.SaveState();
            _trainer.Checkpoint(Snapshot(epoch + 1, 0, _shuffleRng.GetState(), 0, 0, _endState, BestEpoch, 0));
        }

        /// <summary>The model holds the best state; what <see cref="Fit"/> returns.</summary>
        public TrainingOutcome Outcome(bool stoppedEarly, bool cancelled)
        {
            if (Epochs.Count == 0) throw new InvalidOperationException("No epoch was run (the checkpoint was already complete?).");
            if (_bestState is not null && BestEpoch != Epochs[^1].Epoch) _model.LoadState(_bestState);
            return new TrainingOutcome
            {
                Epochs = Epochs,
                BestEpoch = BestEpoch == 0 ? Epochs[^1].Epoch : BestEpoch,
                BestValidation = _bestState is null ? double.NaN : Stopper.Best,
                TrainSeconds = _trainSeconds,
                EvalSeconds = _evalSeconds,
                StoppedEarly = stoppedEarly || (_resume is not null && FirstEpoch > _c.Epochs && Epochs[^1].Epoch < _c.Epochs),
                Cancelled = cancelled,
            };
        }

        private TrainerCheckpoint Snapshot(int epoch, int step, ulong[] shuffleState, double loss, double seconds, byte[] modelState,
            int bestEpoch, int lossBreach) => new()
        {
            InitialLoss = _initialLoss, InitialMaxAbs = _initialMaxAbs, LossBreachStep = lossBreach,
            Epoch = epoch, Step = step, ShuffleStateAtEpochStart = shuffleState, NegativeState = _negativeRng.GetState(),
            EpochLossSoFar = loss, EpochSecondsSoFar = seconds, BestValue = Stopper.Best,
            BestEpoch = bestEpoch, BadEvaluations = Stopper.BadEvaluations,
            TrainSeconds = _trainSeconds, EvalSeconds = _evalSeconds, Epochs = Epochs.ToList(), ModelState = modelState, BestState = _bestState,
        };

        /// <summary>Records the last state known to be good (a failed parameter check replays from it).</summary>
        private void MarkGood(byte[] state, int step) => (_replayState, _replayNegatives, _replayStep) = (state, _negativeRng.GetState(), step);

        /// <summary>What is wrong with the parameters, or null when they pass the rule.</summary>
        private string? ParameterProblem()
        {
            double m = _model.MaxAbsParameter();
            if (!double.IsFinite(m)) return "A model parameter became NaN or infinite";
            if (m > _parameterBound)
                return $"A model parameter exploded to {Num(m)} (more than {DivergenceRules.ParameterFactor:N0} × max(1, {Num(_initialMaxAbs)}), " +
                       "its largest magnitude at initialisation)";
            return null;
        }

        /// <summary>Divergence: restores the best state in memory and explains; nothing non-finite or exploded was
        /// checkpointed, because the parameters are checked before every checkpoint and validation.</summary>
        private TrainingDivergedException Diverged(int epoch, int step, string what, string detail = "")
        {
            if (_bestState is not null) _model.LoadState(_bestState);
            return new TrainingDivergedException(epoch, step,
                $"{what} at epoch {epoch}, step {step} of {_stepsPerEpoch}{detail}: training stopped. " +
                (_bestState is not null ? $"The model was reset to the best state (epoch {BestEpoch}). " : "") +
                "The checkpoints on disk are the last good ones. " +
                "Likely causes: a learning rate too high for this model, or a margin/scale that lets distances blow up; " +
                "try a 3–10× lower learning rate, a smaller margin, or gradient clipping.");
        }

        /// <summary>A check failed after step <paramref name="failedStep"/> (<paramref name="what"/> says how): replays from
        /// the last good state with a parameter check after every step, so the message names the first step that broke
        /// them, not the step that noticed.</summary>
        private TrainingDivergedException DivergedAfterReplay(int epoch, int failedStep, string what)
        {
            _model.LoadState(_replayState);
            _negativeRng.SetState(_replayNegatives);
            for (int s = _replayStep; s < failedStep; s++)
            {
                double loss = Step(s * BatchSize);
                string? problem = ParameterProblem();
                if (problem is not null) return Diverged(epoch, s + 1, problem, s + 1 < failedStep ? $" (noticed after step {failedStep})" : "");
                if (!double.IsFinite(loss)) return Diverged(epoch, s + 1, $"The loss became {loss}");
            }
            return Diverged(epoch, failedStep, what); // the replay did not reproduce it (a non-deterministic engine)
        }
    }
}
