using System.Linq.Expressions;
using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace Lrml.Models;

/// <summary>
/// Applies textual overrides ("margin=0.25", "distance=squared-l2") to a typed configuration record:
/// the record is serialised to JSON, each key is matched to a property case- and separator-insensitively
/// (dim, Dim, negative_relation, negative-relation), the value is converted to the property's type, and
/// the JSON is deserialised back. Unknown keys or unconvertible values fail with the list of valid keys,
/// so a typo never silently runs the default.
/// </summary>
public static class ConfigBinder
{
    /// <summary>JSON options used for every config and result file of the kit.</summary>
    public static readonly JsonSerializerOptions Json = CreateOptions();

    private static JsonSerializerOptions CreateOptions()
    {
        var o = new JsonSerializerOptions
        {
            WriteIndented = true,
            PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
            NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
            // explicit: hosts that disable reflection-based serialisation by default (file-based apps, trimmed
            // hosts) still work
            TypeInfoResolver = new System.Text.Json.Serialization.Metadata.DefaultJsonTypeInfoResolver(),
        };
        o.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.KebabCaseLower));
        return o;
    }

    /// <summary>Normalises a key for matching: lower case, no '_', '-' or '.'.</summary>
    public static string Normalise(string key) =>
        new(key.Where(ch => ch != '_' && ch != '-' && ch != '.').Select(char.ToLowerInvariant).ToArray());

    /// <summary>Returns a copy of <paramref name="config"/> with the overrides applied.</summary>
    public static T Apply<T>(T config, IEnumerable<KeyValuePair<string, string>> overrides) where T : class
    {
        var node = JsonSerializer.SerializeToNode(config, Json)!.AsObject();
        var keys = node.Select(p => p.Key).ToList();
        foreach (var (rawKey, rawValue) in overrides)
        {
            string want = Normalise(rawKey);
            string? key = keys.FirstOrDefault(k => Normalise(k) == want);
            if (key is null)
                throw new ArgumentException($"Unknown setting '{rawKey}' for {typeof(T).Name}. Valid settings: {string.Join(", ", keys)}.");
            node[key] = ConvertValue(node[key], rawValue.Trim(), key, typeof(T).Name);
        }
        try
        {
            return node.Deserialize<T>(Json) ?? throw new ArgumentException($"Could not build {typeof(T).Name}.");
        }
        catch (JsonException ex)
        {
            throw new ArgumentException($"Invalid value for {typeof(T).Name}: {ex.Message}", ex);
        }
    }

    /// <summary>
    /// The setting key of a property of a config record: the JSON name this binder reads and writes (snake_case), so
    /// code names a setting through its record and a renamed property breaks the build, not a run:
    /// <c>ConfigBinder.Key&lt;LrmlConfig&gt;(c =&gt; c.Slots)</c> is "slots".
    /// </summary>
    public static string Key<T>(Expression<Func<T, object?>> property) where T : class
    {
        ArgumentNullException.ThrowIfNull(property);
        var body = property.Body is UnaryExpression { NodeType: ExpressionType.Convert } u ? u.Operand : property.Body;
        if (body is not MemberExpression { Member: PropertyInfo p, Expression: ParameterExpression })
            throw new ArgumentException($"'{property}' does not name a property of {typeof(T).Name}.");
        // a setting is a property the binder can set (derived read-only values such as LrmlConfig.EffectiveMemoryLearningRate are not)
        return Json.GetTypeInfo(typeof(T)).Properties.FirstOrDefault(x => x.AttributeProvider is PropertyInfo q && q.Name == p.Name && x.Set is not null
                                                                            && q.GetCustomAttribute<System.Text.Json.Serialization.JsonIgnoreAttribute>() is null)?.Name
               ?? throw new ArgumentException($"{typeof(T).Name}.{p.Name} is not a setting (the binder does not set it).");
    }

    /// <summary>A setting of a config record as a key=value pair, its key named through the record (see <see cref="Key{T}"/>)
    /// and its value as setting text, e.g. <c>Pair&lt;LrmlConfig&gt;(c =&gt; c.AttentionTemperature, "0.01")</c>.</summary>
    public static KeyValuePair<string, string> Pair<T>(Expression<Func<T, object?>> property, string value) where T : class =>
        new(Key(property), value);

    /// <summary>
    /// Binds key=value settings to a config record and validates it, once, where the settings enter the kit (the command
    /// line, presets.json, a spec file — see <see cref="ModelEntry.CheckSettings"/>) and by every model factory: an unknown
    /// key, an unconvertible value or a value the record's <see cref="IModelConfig.Validate"/> refuses is a one-line
    /// <see cref="ArgumentException"/> naming the setting.
    /// </summary>
    public static T Bind<T>(IReadOnlyList<KeyValuePair<string, string>> settings) where T : class, IModelConfig, new()
    {
        ArgumentNullException.ThrowIfNull(settings);
        var config = Apply(new T(), settings);
        try
        {
            config.Validate();
            return config;
        }
        catch (ArgumentException e)
        {
            // name the setting: the first one after which the record no longer validates
            for (int n = 1; n <= settings.Count; n++)
            {
                try { Apply(new T(), settings.Take(n)).Validate(); }
                catch (ArgumentException) { throw new ArgumentException($"Bad setting {settings[n - 1].Key}={settings[n - 1].Value}: {e.Message}", e); }
            }
            throw new ArgumentException($"Bad settings {string.Join(" ", settings.Select(kv => $"{kv.Key}={kv.Value}"))}: {e.Message}", e);
        }
    }

    /// <summary>Parses "key=value" strings into pairs.</summary>
    public static List<KeyValuePair<string, string>> ParsePairs(IEnumerable<string> items)
    {
        var list = new List<KeyValuePair<string, string>>();
        foreach (var item in items)
        {
            int eq = item.IndexOf('=');
            if (eq <= 0) throw new ArgumentException($"Setting '{item}' is not of the form key=value.");
            list.Add(new(item[..eq].Trim(), item[(eq + 1)..]));
        }
        return list;
    }

    /// <summary>The configuration as a JSON object (snake_case keys, kebab-case enum values).</summary>
    public static JsonObject ToJson<T>(T config) => JsonSerializer.SerializeToNode(config, Json)!.AsObject();

    private static JsonNode? ConvertValue(JsonNode? current, string value, string key, string owner)
    {
        var kind = current?.GetValueKind() ?? JsonValueKind.Null;
        switch (kind)
        {
            case JsonValueKind.True:
            case JsonValueKind.False:
                if (bool.TryParse(value, out bool b)) return JsonValue.Create(b);
                if (value is "1" or "yes" or "on") return JsonValue.Create(true);
                if (value is "0" or "no" or "off") return JsonValue.Create(false);
                throw new ArgumentException($"{owner}.{key} expects true or false, got '{value}'.");
            case JsonValueKind.Number:
                if (double.TryParse(value, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out double d))
                    return JsonValue.Create(d);
                throw new ArgumentException($"{owner}.{key} expects a number, got '{value}'.");
            case JsonValueKind.String:
                return JsonValue.Create(value);
            case JsonValueKind.Array:
                try
                {
                    var arr = new JsonArray();
                    foreach (var part in value.Trim('[', ']').Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                        arr.Add(double.TryParse(part, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out double x)
                            ? JsonValue.Create(x) : JsonValue.Create(part));
                    return arr;
                }
                catch (FormatException) { throw new ArgumentException($"{owner}.{key} expects a list, got '{value}'."); }
            default:
                return double.TryParse(value, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out double y)
                    ? JsonValue.Create(y) : JsonValue.Create(value);
        }
    }
}

/// <summary>A model's config record: its settings are checked by <see cref="Validate"/> (see <see cref="ConfigBinder.Bind{T}"/>).</summary>
public interface IModelConfig
{
    /// <summary>Checks ranges; throws <see cref="ArgumentException"/> naming the bad field.</summary>
    void Validate();
}

/// <summary>A model setting refused where settings enter the kit (<see cref="ModelEntry.CheckSettings"/>): a one-line
/// message naming the setting. The command line reports it with exit code 2, before any data is loaded.</summary>
internal sealed class SettingException(string message, Exception? inner = null) : ArgumentException(message, inner);
