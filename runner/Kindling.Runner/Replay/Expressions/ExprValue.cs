using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Kindling.Runner.Jobs;

namespace Kindling.Runner.Replay.Expressions;

/// <summary>The kinds of value of GitHub's expression language.</summary>
public enum ExprKind
{
    Null,
    Boolean,
    Number,
    String,
    Array,
    Object,
}

/// <summary>
/// A value of GitHub's expression language. Object keys are case-insensitive, as GitHub's. A value read from the
/// <c>secrets</c> context (or computed from one) is <see cref="IsSecret"/>: it is never written into a job spec as
/// text. When it is a plain concatenation of literal text and secrets, <see cref="SecretParts"/> says how, so the
/// runner can rebuild it from the secrets at launch.
/// </summary>
public sealed class ExprValue
{
    private readonly bool _bool;
    private readonly double _number;
    private readonly string? _string;
    private readonly IReadOnlyList<ExprValue>? _array;
    private readonly IReadOnlyDictionary<string, ExprValue>? _object;

    private ExprValue(ExprKind kind, bool b = false, double n = 0, string? s = null, IReadOnlyList<ExprValue>? a = null,
        IReadOnlyDictionary<string, ExprValue>? o = null, bool secret = false, IReadOnlyList<SecretPart>? parts = null)
    {
        Kind = kind;
        _bool = b;
        _number = n;
        _string = s;
        _array = a;
        _object = o;
        IsSecret = secret;
        SecretParts = parts;
    }

    public static ExprValue Null { get; } = new(ExprKind.Null);
    public static ExprValue True { get; } = new(ExprKind.Boolean, b: true);
    public static ExprValue False { get; } = new(ExprKind.Boolean, b: false);
    public static ExprValue EmptyString { get; } = new(ExprKind.String, s: "");

    public ExprKind Kind { get; }

    /// <summary>Read from (or computed from) a secret: must not be written anywhere as text.</summary>
    public bool IsSecret { get; }

    /// <summary>For a secret string built only of literal text and secrets: the recipe; null otherwise.</summary>
    public IReadOnlyList<SecretPart>? SecretParts { get; }

    public static ExprValue Bool(bool b) => b ? True : False;

    public static ExprValue Number(double n) => new(ExprKind.Number, n: n);

    public static ExprValue String(string s) => new(ExprKind.String, s: s);

    /// <summary>The value of secret <paramref name="name"/>.</summary>
    public static ExprValue Secret(string name, string value) =>
        new(ExprKind.String, s: value, secret: true, parts: [SecretPart.FromSecret(name)]);

    /// <summary>A secret string with its recipe (null: computed in a way the runner cannot repeat).</summary>
    public static ExprValue SecretString(string value, IReadOnlyList<SecretPart>? parts) => new(ExprKind.String, s: value, secret: true, parts: parts);

    public static ExprValue Array(IReadOnlyList<ExprValue> items) => new(ExprKind.Array, a: items);

    public static ExprValue Object(IEnumerable<KeyValuePair<string, ExprValue>> members)
    {
        var o = new Dictionary<string, ExprValue>(StringComparer.OrdinalIgnoreCase);
        foreach ((string k, ExprValue v) in members)
        {
            o[k] = v;
        }

        return new ExprValue(ExprKind.Object, o: o);
    }

    /// <summary>This value marked as derived from a secret in a way that cannot be repeated from parts.</summary>
    public ExprValue AsOpaqueSecret() => IsSecret && SecretParts is null ? this : new(Kind, _bool, _number, _string, _array, _object, secret: true, parts: null);

    public bool AsBoolean => _bool;
    public double AsNumber => _number;
    public string AsString => _string ?? "";
    public IReadOnlyList<ExprValue> Items => _array ?? [];
    public IReadOnlyDictionary<string, ExprValue> Members => _object ?? new Dictionary<string, ExprValue>();

    /// <summary>GitHub's truthiness: false, 0, -0, NaN, "" and null are falsy; everything else is truthy.</summary>
    public bool IsTruthy => Kind switch
    {
        ExprKind.Null => false,
        ExprKind.Boolean => _bool,
        ExprKind.Number => _number != 0 && !double.IsNaN(_number),
        ExprKind.String => _string!.Length > 0,
        _ => true,
    };

    /// <summary>GitHub's coercion to a number (used when comparing values of different kinds).</summary>
    public double ToNumber() => Kind switch
    {
        ExprKind.Null => 0,
        ExprKind.Boolean => _bool ? 1 : 0,
        ExprKind.Number => _number,
        ExprKind.String => ParseNumber(_string!),
        _ => double.NaN,
    };

    /// <summary>GitHub's conversion to text (interpolation, format, contains).</summary>
    public override string ToString() => Kind switch
    {
        ExprKind.Null => "",
        ExprKind.Boolean => _bool ? "true" : "false",
        ExprKind.Number => FormatNumber(_number),
        ExprKind.String => _string!,
        ExprKind.Array => "Array",
        _ => "Object",
    };

    public JsonNode? ToJsonNode() => Kind switch
    {
        ExprKind.Null => null,
        ExprKind.Boolean => JsonValue.Create(_bool),
        ExprKind.Number => double.IsFinite(_number) && _number == Math.Floor(_number) && Math.Abs(_number) < 1e15
            ? JsonValue.Create((long)_number)
            : JsonValue.Create(_number),
        ExprKind.String => JsonValue.Create(_string),
        ExprKind.Array => new JsonArray([.. _array!.Select(v => v.ToJsonNode())]),
        _ => new JsonObject(_object!.Select(kv => KeyValuePair.Create(kv.Key, kv.Value.ToJsonNode()))),
    };

    public string ToJson() => ToJsonNode()?.ToJsonString(IndentedJson) ?? "null";

    public static ExprValue FromJson(JsonNode? node) => node switch
    {
        null => Null,
        JsonObject o => Object(o.Select(kv => KeyValuePair.Create(kv.Key, FromJson(kv.Value)))),
        JsonArray a => Array([.. a.Select(FromJson)]),
        JsonValue v => v.GetValueKind() switch
        {
            JsonValueKind.True => True,
            JsonValueKind.False => False,
            JsonValueKind.Number => Number(v.GetValue<double>()),
            JsonValueKind.String => String(v.GetValue<string>()),
            _ => Null,
        },
        _ => Null,
    };

    /// <summary>A number as GitHub prints it: integers without a decimal point, others in the shortest round-trip form.</summary>
    public static string FormatNumber(double n)
    {
        if (double.IsNaN(n)) return "NaN";
        if (double.IsPositiveInfinity(n)) return "Infinity";
        if (double.IsNegativeInfinity(n)) return "-Infinity";
        return n == Math.Floor(n) && Math.Abs(n) < 1e15
            ? ((long)n).ToString(CultureInfo.InvariantCulture)
            : n.ToString("R", CultureInfo.InvariantCulture);
    }

    /// <summary>Any JSON number form (and hex, as GitHub's parser accepts); "" and whitespace are 0; anything else NaN.</summary>
    public static double ParseNumber(string s)
    {
        string t = s.Trim();
        if (t.Length == 0)
        {
            return 0;
        }

        if (t.StartsWith("0x", StringComparison.OrdinalIgnoreCase) &&
            long.TryParse(t.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out long hex))
        {
            return hex;
        }

        return double.TryParse(t, NumberStyles.AllowLeadingSign | NumberStyles.AllowDecimalPoint | NumberStyles.AllowExponent,
            CultureInfo.InvariantCulture, out double d) ? d : double.NaN;
    }

    private static readonly JsonSerializerOptions IndentedJson = new() { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>The value for a diagnostic message (strings quoted, as they would be written in an expression).</summary>
    public string Describe()
    {
        if (IsSecret)
        {
            return "***";
        }

        return Kind switch
        {
            ExprKind.String => "'" + _string!.Replace("'", "''", StringComparison.Ordinal) + "'",
            ExprKind.Array or ExprKind.Object => ToJsonNode()!.ToJsonString(),
            _ => ToString(),
        };
    }

    internal static string Join(IEnumerable<string> parts)
    {
        var sb = new StringBuilder();
        foreach (string p in parts)
        {
            sb.Append(p);
        }

        return sb.ToString();
    }
}
