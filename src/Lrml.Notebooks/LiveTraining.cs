using Lrml.Models;
using Lrml.Protocols;
using Lrml.Reproduction.Plots;
using Lrml.Training;
using Plotly.NET;

namespace Lrml.Notebooks;

/// <summary>
/// Follows a <see cref="Trainer"/> from a notebook: after every epoch it records the epoch and hands a fresh chart (loss per
/// training positive, the validation metric and, for a relational model such as LRML, the attention entropy / ln N on a
/// fixed sample of training pairs) to a callback — in a notebook, the <c>Update</c> of the value <c>display(...)</c> returned,
/// so one chart redraws in place while the trainer runs.
/// <code>
/// var live = new LiveTraining("LRML");
/// var shown = display(live.Chart());
/// live.Attach(trainer, model, split.Train, seed, chart =&gt; shown.Update(chart));
/// </code>
/// </summary>
public sealed class LiveTraining(string name, string validationMetric = "nDCG@10")
{
    private readonly List<EpochRecord> _epochs = [];

    /// <summary>The mark every chart of this instance carries (plotly layout <c>meta</c>). A live front end replaces the displayed
    /// chart in place; dotnet-repl records each update as a new output instead, and <c>notebooks/run.sh</c> keeps only the last
    /// output with a given mark (<see cref="NotebookDocument.DropSupersededLiveOutputs"/>), so the rendered page matches.</summary>
    public string LiveMark { get; } = NotebookDocument.LiveMarkPrefix + Guid.NewGuid().ToString("N")[..12];

    /// <summary>The run's name (legend and title).</summary>
    public string Name { get; } = name;

    /// <summary>The validation metric drawn.</summary>
    public string ValidationMetric { get; } = validationMetric;

    /// <summary>The epochs so far.</summary>
    public IReadOnlyList<EpochRecord> Epochs => _epochs;

    /// <summary>Whether the memory usage is measured (a relational model was attached).</summary>
    public bool MeasuresMemory { get; private set; }

    /// <summary>
    /// Subscribes to <paramref name="trainer"/>: every finished epoch is recorded and <paramref name="onEpoch"/> gets the new
    /// chart. For a relational model the trainer also measures the memory usage after every epoch (2,000 training pairs drawn
    /// once with <paramref name="seed"/>; the run's random streams are not touched), as <c>lrml train</c> does.
    /// </summary>
    public LiveTraining Attach(Trainer trainer, ITrainableRecommender model, UserItems train, long seed, Action<GenericChart>? onEpoch = null)
    {
        ArgumentNullException.ThrowIfNull(trainer);
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(train);
        if (model is IRelationalModel relational)
        {
            var probe = new MemoryUsageProbe(train, seed);
            trainer.EpochDiagnostics = _ => probe.Measure(relational).ToDictionary();
            MeasuresMemory = true;
        }
        trainer.EpochCompleted += e =>
        {
            _epochs.Add(e);
            onEpoch?.Invoke(Chart());
        };
        return this;
    }

    /// <summary>The epochs so far on stacked panels sharing the epoch axis (empty panels before the first epoch).</summary>
    public GenericChart Chart()
    {
        double[] x = _epochs.Select(e => (double)e.Epoch).ToArray();
        double Val(EpochRecord e) => e.Validation is { } v && v.TryGetValue(ValidationMetric, out double m) ? m : double.NaN;
        double Entropy(EpochRecord e) => e.Diagnostics is { } d && d.TryGetValue("attention_entropy_ratio", out double m) ? m : double.NaN;
        var panels = new List<(string, IReadOnlyList<Series>)>
        {
            ("loss per positive", [new Series(Name, x, _epochs.Select(e => e.MeanLoss).ToArray())]),
            ("validation " + ValidationMetric, [new Series(Name, x, _epochs.Select(Val).ToArray())]),
        };
        if (MeasuresMemory) panels.Add(("attention entropy / ln N", [new Series(Name, x, _epochs.Select(Entropy).ToArray())]));
        string best = _epochs.Where(e => e.IsBest).Select(e => $", best so far: epoch {e.Epoch}").LastOrDefault() ?? "";
        var chart = Charts.LinePanels(panels, "epoch", $"{Name}: epoch {_epochs.Count}{best}");
        GenericChart.getLayout(chart).SetProperty("meta", LiveMark);
        return chart;
    }
}
